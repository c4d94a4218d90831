"""scripts/crash_test.py --quick: a smoke run of every kind of kill and fault it checks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


# The script checks the archive folder's own files (temporary files left by kills too).
@pytest.mark.folder_files
def test_crash_script_quick_run_finds_nothing_lost_or_unclean() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "crash_test.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    summary = (
        done.stdout + "\n-- stderr (last lines) --\n" + "\n".join(done.stderr.splitlines()[-40:])
    )
    assert done.returncode == 0, summary
    assert "RESULT: zero lost" in done.stdout, summary
    for victim in ("reindex", "edit", "verify", "export", "watch"):
        assert f"{victim}: 2 kills, 0 photos lost, 0 edits lost" in done.stdout, summary
    for fault in ("missing catalog", "empty catalog", "missing index"):
        assert f"{fault}:" in done.stdout, summary
