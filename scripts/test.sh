#!/usr/bin/env bash
# The tests: install with the dev tools, lint, type-check, run pytest and the CLI contract.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh dev
export PATH="$PWD/.venv/bin:$PATH"
# The PostgreSQL tests need a real server: our own cluster on a private port of 127.0.0.1.
postgres_env=$(bash scripts/postgres.sh start)
eval "$postgres_env"
# The object-storage tests need a real S3 server: a one-node Ceph (memory-backed OSD) with
# its S3 gateway, RGW, on 127.0.0.1.
s3_env=$(bash scripts/ceph.sh start)
eval "$s3_env"

# The end-to-end browser test drives Debian's Chromium (Playwright's own browser download
# is not used) and the export tests read files back with exiftool and exiv2; install them
# when we can.
if ! command -v chromium >/dev/null 2>&1 || ! command -v exiftool >/dev/null 2>&1 \
    || ! command -v exiv2 >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium and exiftool for the browser and export tests..." >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            chromium fonts-dejavu-core libimage-exiftool-perl exiv2 >/dev/null
    else
        echo "chromium, exiftool or exiv2 is missing and cannot be installed here (not root, or no" \
             "apt-get): the tests that need them will be skipped" >&2
    fi
fi

ruff check .
ruff format --check .
mypy
# Two test files at a time (pytest-xdist): much of the tests' time is spent waiting on
# subprocesses, servers and fsync.
pytest -q -n 2 --dist loadfile
# The behavioural tests: ingest, search, rights, wire, verify, the desk and its browser.
behavioural=(
    tests/test_search.py tests/test_query_limits.py tests/test_cli.py tests/test_cli_rights.py
    tests/test_ingest.py tests/test_rights.py tests/test_wire.py tests/test_identity.py
    tests/test_writers.py tests/test_safety.py tests/test_damaged_inputs.py tests/test_watch.py
    tests/test_export.py tests/test_handoff.py tests/test_contactsheet.py tests/test_limits.py
    tests/test_web.py tests/test_abuse_web.py tests/test_desk_workers.py tests/test_browser.py
    tests/test_search_languages.py tests/test_search_filters.py tests/test_desk_filters.py
    tests/test_desk_editing.py tests/test_desk_admin.py tests/test_browser_flows.py
    tests/test_selections.py tests/test_desk_selections.py tests/test_search_service.py
)
# Again with tantivy as the search engine of every archive they make, the tests where the
# engine answers (tests/test_engines.py compares the engines query by query in the run above;
# the desk's pages, the browser, crash safety and the files are the same on either engine).
searching=(
    tests/test_search.py tests/test_query_limits.py tests/test_search_languages.py
    tests/test_search_filters.py tests/test_desk_filters.py tests/test_search_service.py
    tests/test_selections.py tests/test_desk_selections.py tests/test_desk_editing.py
    tests/test_identity.py tests/test_wire.py tests/test_cli.py
)
PHOTOARCHIVE_SEARCH_ENGINE=tantivy pytest -q -n 2 --dist loadfile "${searching[@]}"
# Again as an archive served by several machines has it: every archive's catalog, and so its
# search index, on the PostgreSQL server, and its files on the S3 server (tests of the SQLite
# file and of the folder's own index and photo files are left out: they ran above).
# The browser's longer flows (sign-in, edits, selections) ran above; its thumbnails, read here
# from the object store, are in test_browser.py.
on_servers=()
for file in "${behavioural[@]}"; do
    [ "$file" = tests/test_browser_flows.py ] || on_servers+=("$file")
done
PHOTOARCHIVE_TEST_CATALOG=postgresql PHOTOARCHIVE_TEST_STORAGE=s3 pytest -q -n 2 --dist loadfile \
    -m "not sqlite_file and not index_files and not folder_files" "${on_servers[@]}"
# Ukrainian analysed by the light stemmer, as without the `ukrainian` extra.
PHOTOARCHIVE_UKRAINIAN=stems pytest -q tests/test_search_languages.py
contract=../shared/checks/contract.py
if [ -f "$contract" ]; then
    python "$contract"
    if [ -n "${PHOTOARCHIVE_TEST_POSTGRES:-}" ] && [ -n "${PHOTOARCHIVE_TEST_S3:-}" ]; then
        # Again with the archive's catalog and index on the server, in a database of its own,
        # and its files in a bucket of their own.
        python - "$contract" <<'EOF'
import os, subprocess, sys
from tests.objectstore import fresh_bucket
from tests.postgres import fresh_database
endpoint = os.environ["PHOTOARCHIVE_TEST_S3"]
with fresh_database(os.environ["PHOTOARCHIVE_TEST_POSTGRES"]) as url, fresh_bucket(endpoint) as bucket:
    env = {**os.environ, "PHOTOARCHIVE_CATALOG": url, "PHOTOARCHIVE_STORAGE": f"s3://{bucket}",
           "AWS_ENDPOINT_URL": endpoint}
    sys.exit(subprocess.run([sys.executable, sys.argv[1]], env=env).returncode)
EOF
    fi
else
    echo "CLI contract check not run: $contract not found beside the checkout" >&2
fi
