"""Selections (lightboxes): named sets of photos the desk shares, picked for a page or a
planning meeting; each change lands in the audit log with who made it.

A selection is also a search target: `selection:NAME` (or `selection:"two words"`) in a
query narrows the search to its photos (`narrow`), for the search, `rights check`,
`export` and `contact-sheet` commands and in the browser alike.

Like accounts, selections live in the catalog and change in SQLite transactions of their
own (no search index is involved, so a selection never waits behind an ingest)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from photoarchive.audit import now_text, record
from photoarchive.errors import QueryError, SelectionError, SelectionNotFoundError

if TYPE_CHECKING:
    from photoarchive.archive import Archive
    from photoarchive.catalog.connection import Connection
    from photoarchive.record import PhotoRecord
    from photoarchive.search import SearchFilters

MAX_NAME = 64
#: Letters (any script), digits, space and . _ -, starting with a letter or digit (a name
#: is part of the desk's URLs, where "." and ".." would mean something else).
_NAME = re.compile(r"[^\W_](?:[^\W_]|[ ._-]){0,63}")
#: The search target: `selection:` then a name, quoted if it holds spaces.
PREFIX = "selection:"
#: Query operators that cannot stand beside a selection (it narrows the whole search).
_BINDING = frozenset({"OR", "NOT", "ANDNOT", "ANDMAYBE"})


@dataclass(frozen=True)
class Selection:
    """A selection as listed: its name, how many photos it holds, who made it and when,
    and when it last changed (UTC, ISO)."""

    name: str
    count: int
    created_by: str
    created_at: str
    changed_at: str

    def to_dict(self) -> dict[str, Any]:
        """Return the selection as JSON-ready values."""
        return asdict(self)


def check_name(name: str) -> str:
    """Return the name with spaces trimmed at its ends; raise SelectionError if it is not
    a valid selection name."""
    trimmed = (name or "").strip()
    if not _NAME.fullmatch(trimmed):
        shown = trimmed[:MAX_NAME] + ("..." if len(trimmed) > MAX_NAME else "")
        raise SelectionError(
            f"selection name {shown!r} is not valid: 1 to {MAX_NAME} letters, digits, "
            "spaces and . _ -, starting with a letter or digit"
        )
    return trimmed


def _key(name: str) -> str:
    return name.casefold()


def _find(conn: Connection, name: str) -> Any | None:
    """Return the selection's row (names compared without case, in every script)."""
    wanted = _key(name.strip())
    row = conn.execute(
        "SELECT selection_id, name, created_by, created_at FROM selections WHERE name = ?",
        (name.strip(),),
    ).fetchone()
    if row is not None:
        return row
    for row in conn.execute("SELECT selection_id, name, created_by, created_at FROM selections"):
        if _key(row["name"]) == wanted:
            return row
    return None


def _require(conn: Connection, name: str) -> Any:
    row = _find(conn, name)
    if row is None:
        shown = name.strip()[:MAX_NAME]
        raise SelectionNotFoundError(f"no selection named {shown!r}")
    return row


def _by(by: str) -> str:
    if not (by or "").strip():
        raise SelectionError("say who makes the change (--by)")
    return by.strip()


def create(archive: Archive, name: str, by: str) -> Selection:
    """Make an empty selection; raise SelectionError if the name is not valid or another
    selection has it (names are told apart without regard to case)."""
    name = check_name(name)
    who = _by(by)
    at = now_text()
    with archive.catalog.transaction() as conn:
        taken = _find(conn, name)
        if taken is not None:
            raise SelectionError(f"a selection named {taken['name']!r} exists already")
        conn.execute(
            "INSERT INTO selections (name, created_by, created_at) VALUES (?, ?, ?)",
            (name, who, at),
        )
        record(conn, who, "selection create", name, at=at)
    return get_selection(archive, name)


def rename(archive: Archive, old: str, new: str, by: str) -> Selection:
    """Give a selection a new name (a change of case alone is allowed); raise
    SelectionNotFoundError if there is none named `old`, SelectionError if `new` is not
    valid or is another selection's."""
    new = check_name(new)
    who = _by(by)
    with archive.catalog.transaction() as conn:
        row = _require(conn, old)
        taken = _find(conn, new)
        if taken is not None and taken["selection_id"] != row["selection_id"]:
            raise SelectionError(f"a selection named {taken['name']!r} exists already")
        if row["name"] != new:
            conn.execute(
                "UPDATE selections SET name = ? WHERE selection_id = ?",
                (new, row["selection_id"]),
            )
            record(conn, who, "selection rename", new, "name", row["name"], new)
    return get_selection(archive, new)


def delete(archive: Archive, name: str, by: str) -> int:
    """Delete a selection (never its photos); return how many photos it held."""
    who = _by(by)
    with archive.catalog.transaction() as conn:
        row = _require(conn, name)
        held = _ids(conn, row["selection_id"])
        conn.execute("DELETE FROM selections WHERE selection_id = ?", (row["selection_id"],))
        record(conn, who, "selection delete", row["name"], "photos", held or None, None)
    return len(held)


def add(archive: Archive, name: str, ids: Iterable[str], by: str) -> int:
    """Add photos (ids or unique id prefixes) to a selection, after those it holds; return
    how many were added (a photo it holds already is left where it is). An id that names
    no photo, or several, changes nothing (PhotoNotFoundError, AmbiguousIdError)."""
    who = _by(by)
    at = now_text()
    with archive.catalog.transaction() as conn:
        row = _require(conn, name)
        shas = _resolve(archive, ids)
        held = set(_shas(conn, row["selection_id"]))
        new = [s for s in shas if s not in held]
        conn.executemany(
            "INSERT INTO selection_photos (selection_id, sha256, added_by, added_at) "
            "VALUES (?, ?, ?, ?)",
            [(row["selection_id"], sha, who, at) for sha in new],
        )
        if new:
            record(conn, who, "selection add", row["name"], "photos", None, _short(new), at)
    return len(new)


def remove(archive: Archive, name: str, ids: Iterable[str], by: str) -> int:
    """Take photos (ids or unique id prefixes) out of a selection; return how many were
    in it (taking out a photo it does not hold changes nothing)."""
    who = _by(by)
    with archive.catalog.transaction() as conn:
        row = _require(conn, name)
        shas = _resolve(archive, ids)
        held = set(_shas(conn, row["selection_id"]))
        gone = [s for s in shas if s in held]
        conn.executemany(
            "DELETE FROM selection_photos WHERE selection_id = ? AND sha256 = ?",
            [(row["selection_id"], sha) for sha in gone],
        )
        if gone:
            record(conn, who, "selection remove", row["name"], "photos", _short(gone), None)
    return len(gone)


def list_selections(archive: Archive) -> list[Selection]:
    """Return every selection, by name (without regard to case)."""
    conn = archive.catalog.conn
    rows = conn.execute(
        """
        SELECT s.name, s.created_by, s.created_at, count(p.sha256) AS photos,
               max(p.added_at) AS added
        FROM selections s LEFT JOIN selection_photos p ON p.selection_id = s.selection_id
        GROUP BY s.selection_id
        """
    ).fetchall()
    changed = _last_changes(conn, [r["name"] for r in rows])
    out = [
        Selection(
            name=r["name"],
            count=int(r["photos"]),
            created_by=r["created_by"],
            created_at=r["created_at"],
            changed_at=max(r["created_at"], r["added"] or "", changed.get(_key(r["name"]), "")),
        )
        for r in rows
    ]
    return sorted(out, key=lambda s: (_key(s.name), s.name))


def get_selection(archive: Archive, name: str) -> Selection:
    """Return one selection; raise SelectionNotFoundError if there is none by that name."""
    row = _require(archive.catalog.conn, name)
    for selection in list_selections(archive):
        if selection.name == row["name"]:
            return selection
    raise SelectionNotFoundError(f"no selection named {name.strip()[:MAX_NAME]!r}")


def selection_id(archive: Archive, name: str) -> int:
    """Return the selection's lasting number (it keeps it when renamed), for a desk's
    session to remember; SelectionNotFoundError if there is none by that name."""
    return int(_require(archive.catalog.conn, name)["selection_id"])


def name_of(archive: Archive, number: int) -> str | None:
    """Return the name of the selection numbered `number` now, None if it was deleted."""
    row = archive.catalog.conn.execute(
        "SELECT name FROM selections WHERE selection_id = ?", (number,)
    ).fetchone()
    return None if row is None else str(row["name"])


def photos(archive: Archive, name: str) -> list[str]:
    """Return the sha256 of each photo in the selection, in the order they were added."""
    conn = archive.catalog.conn
    return _shas(conn, _require(conn, name)["selection_id"])


def holding(archive: Archive, name: str) -> frozenset[str]:
    """Return the sha256 of the photos in the selection, as a set (empty if there is no
    selection by that name: it may have been deleted or renamed since a page was made)."""
    conn = archive.catalog.conn
    row = _find(conn, name)
    return frozenset() if row is None else frozenset(_shas(conn, row["selection_id"]))


def containing(archive: Archive, sha256: str) -> list[str]:
    """Return the names of the selections that hold a photo, by name."""
    rows = archive.catalog.conn.execute(
        "SELECT s.name FROM selections s JOIN selection_photos p "
        "ON p.selection_id = s.selection_id WHERE p.sha256 = ?",
        (sha256,),
    )
    return sorted((r["name"] for r in rows), key=_key)


def _shas(conn: Connection, selection_id: int) -> list[str]:
    rows = conn.execute(
        "SELECT sha256 FROM selection_photos WHERE selection_id = ? ORDER BY added_at, rowid",
        (selection_id,),
    )
    return [r["sha256"] for r in rows]


def _ids(conn: Connection, selection_id: int) -> list[str]:
    return _short(_shas(conn, selection_id))


def _short(shas: list[str]) -> list[str]:
    return [sha[:12] for sha in shas]


def _resolve(archive: Archive, ids: Iterable[str]) -> list[str]:
    """Return the sha256 of each id, once each, in the order given."""
    out: list[str] = []
    for typed in ids:
        sha = archive.resolve(typed)
        if sha not in out:
            out.append(sha)
    if not out:
        raise SelectionError("give the ids of the photos")
    return out


def _last_changes(conn: Connection, names: list[str]) -> dict[str, str]:
    """Return when each selection last changed by the audit log (taking a photo out
    leaves no other trace), keyed by the name without case."""
    if not names:
        return {}
    wanted = {_key(n) for n in names}
    rows = conn.execute(
        "SELECT target, max(at) AS at FROM audit WHERE action LIKE 'selection %' "
        "AND action != 'selection delete' GROUP BY target"
    )
    out: dict[str, str] = {}
    for row in rows:
        key = _key(row["target"] or "")
        if key in wanted and row["at"] > out.get(key, ""):
            out[key] = row["at"]
    return out


# -- selections as search targets ------------------------------------------------------


def split_query(query: str) -> tuple[str, list[str]]:
    """Return the query without its `selection:NAME` targets, and the names they give.

    A target narrows the whole search, so it stands beside the other words, outside
    brackets, not joined to them by OR or NOT (an AND beside it is dropped); QueryError
    otherwise, or for `selection:` with no name.
    """
    if PREFIX not in query.lower():
        return query, []
    names: list[str] = []
    kept: list[str] = []
    depth = 0
    quoted = False
    i = 0
    last = 0
    while i < len(query):
        c = query[i]
        if c == '"':
            quoted = not quoted
        elif not quoted and c in "([{":
            depth += 1
        elif not quoted and c in ")]}":
            depth -= 1
        elif (
            not quoted
            and query[i : i + len(PREFIX)].lower() == PREFIX
            and (i == 0 or query[i - 1].isspace() or query[i - 1] in "([{")
        ):
            if depth > 0:
                raise QueryError(
                    "selection:NAME narrows the whole search: write it outside brackets"
                )
            end, name = _target_at(query, i + len(PREFIX))
            kept.append(query[last:i])
            names.append(name)
            last = i = end
            continue
        i += 1
    kept.append(query[last:])
    return _without_dangling_and(kept), names


def _target_at(query: str, start: int) -> tuple[int, str]:
    """Return where the name starting at `start` ends, and the name."""
    if query[start : start + 1] == '"':
        close = query.find('"', start + 1)
        if close < 0:
            raise QueryError('the selection\'s name has no closing quote: selection:"NAME"')
        end, name = close + 1, query[start + 1 : close]
    else:
        end = start
        while end < len(query) and not query[end].isspace() and query[end] not in '()"':
            end += 1
        name = query[start:end]
    if not name.strip():
        raise QueryError('name the selection: selection:NAME, or selection:"two words"')
    return end, name.strip()


def _without_dangling_and(parts: list[str]) -> str:
    """Join the query around the targets taken out of it; an AND left beside a target is
    dropped, an OR or NOT is refused."""
    out: list[str] = []
    for n, part in enumerate(parts):
        words = part.split()
        before_target = n < len(parts) - 1
        after_target = n > 0
        if after_target and words and words[0] in _BINDING | {"AND"}:
            if words[0] != "AND":
                raise _bound_target()
            words = words[1:]
        if before_target and words and words[-1] in _BINDING | {"AND"}:
            if words[-1] != "AND":
                raise _bound_target()
            words = words[:-1]
        out.extend(words)
    return " ".join(out)


def _bound_target() -> QueryError:
    return QueryError(
        "selection:NAME narrows the whole search: write it beside the other words, "
        "not joined to them by OR or NOT"
    )


def names_selection(query: str) -> bool:
    """Return True if the query names a selection (`selection:NAME`)."""
    return bool(split_query(query)[1])


def narrow(
    archive: Archive, query: str, filters: SearchFilters | None
) -> tuple[str, SearchFilters | None]:
    """Return the query without its `selection:NAME` targets, and the filters narrowed to
    the photos of every selection it names; SelectionNotFoundError for a name that is no
    selection's."""
    from photoarchive.search import SearchFilters

    rest, names = split_query(query)
    if not names:
        return query, filters
    wanted: frozenset[str] | None = None if filters is None else filters.sha256s
    for name in names:
        shas = frozenset(photos(archive, name))
        wanted = shas if wanted is None else wanted & shas
    return rest, replace(filters or SearchFilters(), sha256s=wanted)


def in_selection_order(
    archive: Archive, query: str, records: list[PhotoRecord]
) -> list[PhotoRecord]:
    """Return records in the order they were added to the first selection the query
    names (as they are if it names none)."""
    names = split_query(query)[1]
    if not names:
        return records
    place = {sha: n for n, sha in enumerate(photos(archive, names[0]))}
    return sorted(records, key=lambda r: place.get(r.sha256, len(place)))


def selection_records(archive: Archive, query: str, limit: int | None = None) -> list[PhotoRecord]:
    """Return the photos a query naming a selection finds, in the order they were added to
    it, at most `limit`: every version and state (a killed or superseded photo a
    selection holds is reported and refused by the commands that take it, never hidden)."""
    from photoarchive.search import SearchFilters
    from photoarchive.search.results import WITHHELD

    names = split_query(query)[1]
    if not names:
        raise QueryError(f"{query!r} names no selection (selection:NAME)")
    size = max(1, len(photos(archive, names[0])))
    page = archive.search(query, limit=size, filters=SearchFilters(states=("live", *WITHHELD)))
    records = in_selection_order(archive, query, [r.record for r in page.results])
    return records if limit is None else records[:limit]


def quoted_target(typed: str) -> str:
    """Return one word of a command line as a query word: `selection:two words`, which the
    shell left of `selection:"two words"`, quoted again."""
    if typed[: len(PREFIX)].lower() == PREFIX and " " in typed.strip() and '"' not in typed:
        return f'{PREFIX}"{typed[len(PREFIX) :].strip()}"'
    return typed
