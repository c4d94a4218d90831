"""An index folder's life, the same for every engine: its marks (which archive, which
format), building a new one beside it and swapping it in whole."""

from __future__ import annotations

import shutil
from pathlib import Path

from photoarchive.errors import IndexOutdatedError, IndexUnavailableError

# The identity of the archive the index was built for (its catalog's archive_id).
ARCHIVE_ID_FILE = "archive-id"
# The engine and the version of its documents: an index of another is rebuilt.
FORMAT_FILE = "format"


def write_marks(folder: Path, archive_id: str | None, index_format: str) -> None:
    """Record in `folder` which archive and format its index is."""
    from photoarchive.atomic import atomic_write

    atomic_write(folder / FORMAT_FILE, index_format.encode("ascii"))
    if archive_id:
        atomic_write(folder / ARCHIVE_ID_FILE, archive_id.encode("ascii"))


def with_analysis(index_format: str) -> str:
    """Return an engine's index format with what its terms also depend on (analysis.py)."""
    from photoarchive.search.analysis import analysis_id

    return f"{index_format}+{analysis_id()}"


def check_marks(folder: Path, archive_id: str | None, index_format: str) -> None:
    """Raise IndexOutdatedError unless the index in `folder` is of `index_format` and built
    for the archive `archive_id` (None: any)."""
    check_found_marks(
        _read(folder / FORMAT_FILE), _read(folder / ARCHIVE_ID_FILE), archive_id, index_format
    )


def check_found_marks(
    found: str | None, found_archive_id: str | None, archive_id: str | None, index_format: str
) -> None:
    """Raise IndexOutdatedError unless the marks an index holds (its format and archive id,
    wherever the engine keeps them) are `index_format` and `archive_id` (None: any)."""
    if found != index_format and found and found.split("+")[0] == index_format.split("+")[0]:
        from photoarchive.search.languages import ukrainian_analysis

        now = ukrainian_analysis()
        raise IndexOutdatedError(
            f"the search index was built with Ukrainian words as "
            f"{'stems' if now == 'lemmas' else 'lemmas'}, and they are now {now} (the "
            "'ukrainian' extra was installed or removed); rebuild it with "
            "'photoarchive reindex'"
        )
    if found != index_format:
        raise IndexOutdatedError(
            "the search index was built by another version of photoarchive; rebuild it with "
            "'photoarchive reindex'"
        )
    if archive_id is not None and found_archive_id != archive_id:
        raise IndexOutdatedError(
            "the search index was not built for this archive's catalog (it was copied from "
            "another archive or is older); rebuild it with 'photoarchive reindex'"
        )


def _read(path: Path) -> str | None:
    try:
        return path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def leftovers(folder: Path) -> tuple[Path, Path]:
    """Return the folders a rebuild works in (the new index, the old one): present only
    while a rebuild runs or after one was killed."""
    return (folder.with_name(folder.name + ".rebuild"), folder.with_name(folder.name + ".old"))


def fresh_build_folder(folder: Path) -> Path:
    """Return an empty folder beside `folder` to build a new index in."""
    tmp, _ = leftovers(folder)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def swap_in(folder: Path) -> None:
    """Put the index built in the rebuild folder in place of `folder`, so searches never
    see a half-built one: in one step where the system can exchange two folders, else by
    two renames."""
    from photoarchive.atomic import exchange_paths

    tmp, old = leftovers(folder)
    if folder.exists() and exchange_paths(tmp, folder):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    if old.exists():
        shutil.rmtree(old)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def folder_identity(folder: Path) -> tuple[int, int] | None:
    """Return (device, inode) of a folder: a rebuild swaps in another one."""
    try:
        info = folder.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


#: Each engine's index folder in an archive.
#: PostgreSQL keeps its index in the database: its folder is a name only, never made.
INDEX_FOLDERS = {"whoosh": "index", "tantivy": "index-tantivy", "postgresql": "index-postgresql"}


def missing(folder: Path) -> IndexUnavailableError:
    """Return the error for an index that is not there (naming another engine's index the
    archive holds, if any: archive.toml may have lost its search_engine line)."""
    others = [
        engine
        for engine, name in INDEX_FOLDERS.items()
        if name != folder.name and (folder.parent / name).is_dir()
    ]
    hint = (
        f'; the archive holds a {others[0]} index: set search_engine = "{others[0]}" in '
        "archive.toml, or"
        if others
        else "; "
    )
    return IndexUnavailableError(
        f"the search index is missing ({folder}){hint} rebuild it with 'photoarchive reindex'"
    )


def damaged(exc: BaseException) -> IndexUnavailableError:
    """Return the error for an index an engine cannot read."""
    return IndexUnavailableError(
        f"the search index is damaged ({type(exc).__name__}: {exc}); rebuild it with "
        "'photoarchive reindex'"
    )
