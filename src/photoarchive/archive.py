"""The composition root: an Archive wires settings, file store, catalog and search index."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photoarchive.atomic import atomic_write
from photoarchive.catalog import (
    CATALOG_FILE,
    MIGRATIONS,
    Catalog,
    ServerCatalog,
    StoredPhoto,
    catalog_location,
    file_state,
)
from photoarchive.config import SETTINGS_FILE, ArchiveSettings, load_settings, starter_settings_text
from photoarchive.errors import (
    ArchiveNotFoundError,
    ConfigError,
    IndexUnavailableError,
    PhotoArchiveError,
    QueryError,
    StorageError,
)
from photoarchive.locking import WriterLock
from photoarchive.passing_keys import PassingKeys
from photoarchive.policy import POLICY_FILE, STARTER_POLICY, RightsPolicy, load_policy
from photoarchive.record import PhotoRecord
from photoarchive.search import Entry, SearchEngine, SearchFilters, highlight, open_engine
from photoarchive.states import PhotoState, state_fields, superseded_by, withheld
from photoarchive.store import FileStore, open_store

if TYPE_CHECKING:
    from datetime import datetime

    from photoarchive.catalog.migrate import MigrationReport
    from photoarchive.ingest import IngestOptions, IngestReport, ProgressCallback
    from photoarchive.rights import Verdict
    from photoarchive.search.thesaurus import Thesaurus
    from photoarchive.store.migrate import StorageMove
    from photoarchive.store.s3 import S3Store
    from photoarchive.verify import VerifyReport

BULK_INDEX = 20_000


@dataclass(frozen=True)
class SearchResult:
    """A search hit: the record, its score and the caption with matched words marked."""

    record: PhotoRecord
    score: float
    caption_highlighted: str | None
    verdict: Verdict
    #: How many field edits the photo has had (what an edit's compare-and-set names).
    revision: int = 0
    #: "live", "superseded", "killed" or "notice"; and the current version's id when
    #: superseded.
    state: str = "live"
    superseded_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the record's JSON (as `show --json`) with score and highlights added."""
        return {
            **self.record.to_dict(),
            **state_fields(self.state, self.superseded_by),
            "revision": self.revision,
            "rights": self.verdict.to_dict(),
            "score": round(self.score, 4),
            "caption_highlighted": self.caption_highlighted,
        }


@dataclass(frozen=True)
class SearchPage:
    """One page of results and the total number of matches."""

    results: list[SearchResult]
    total: int
    agency_counts: dict[str, int] = field(default_factory=dict)


class Archive:
    """An opened archive folder. Create one with `open_archive` or `init_archive`."""

    def __init__(
        self,
        root: Path,
        readonly: bool = False,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.root = root
        self.readonly = readonly
        self._settings_state = file_state(root / SETTINGS_FILE)
        self.settings: ArchiveSettings = load_settings(root / SETTINGS_FILE)
        #: Where originals and renditions are kept: the folder, or object storage.
        self.store: FileStore = open_store(root, self.settings)
        #: Every writer holds it while it changes the catalog or the index.
        self.lock = WriterLock(root, self.settings.lock_wait_seconds, on_wait, readonly)
        self._policy: RightsPolicy | None = None
        self._passing = PassingKeys()
        self._policy_state: tuple[int, int, int] | None = None
        self.catalog = Catalog(catalog_location(root, self.settings), readonly=readonly)
        self.index: SearchEngine = self._engine()
        if (
            self.catalog.schema_version() < len(MIGRATIONS)
            or self.catalog.relink_pending()
            or self.catalog.pending("rebuild_index")
        ):
            self._upgrade(on_wait)

    def outdated(self) -> bool:
        """True if a long-lived reader should open the archive again: its settings (the
        search engine, limits) changed, or its catalog had to be read as an immutable file
        and has changed since."""
        return (
            file_state(self.root / SETTINGS_FILE) != self._settings_state
            or self.catalog.changed_on_disk()
        )

    def _engine(self, name: str | None = None) -> SearchEngine:
        """Return the search engine `name` (default: the archive's) for this archive."""
        engine = name or self.settings.search_engine
        where = self.catalog.location
        database = (where.url, where.schema) if isinstance(where, ServerCatalog) else None
        index = open_engine(engine, self.root, self.catalog.archive_id(), database)
        if database is not None and engine == "postgresql":
            from photoarchive.search.postgresql_engine import PostgresEngine

            # The index's rows are written in the catalog's transaction when one is open.
            assert isinstance(index, PostgresEngine)
            index.join(self.catalog.conn.current)  # type: ignore[attr-defined]
        return index

    @property
    def index_in_catalog(self) -> bool:
        """True if the search index is written in the catalog's own transactions."""
        return self.catalog.on_server and self.index.name == "postgresql"

    def catalogue(self, photos: list[tuple[StoredPhoto, dict[str, Any]]]) -> set[str]:
        """Catalogue photos (with their sources) and index them; return the hashes that
        were new. With the index in the catalog's database, a photo's row and its index
        entry are one transaction; otherwise the catalog commits first, its photos flagged
        until the index has them (finished by `finish_pending_index`, or the next writer)."""
        if not self.index_in_catalog:
            return self.catalog.add_many(photos)
        with self.catalog.transaction():
            inserted = self.catalog.add_many(photos)
            records = [p.record for p, _ in photos if p.record.sha256 in inserted]
            self.index.add(self._entries(records))
            self.catalog.mark_indexed(inserted)
        return inserted

    def _upgrade(self, on_wait: Callable[[str], None] | None) -> None:
        """Bring a catalog from an older photoarchive up to date: its schema (migrated when
        opened for writing) and its pictures, linked again by today's identity rules.

        Opened read-only, the archive is upgraded by a writer for the moment, if the
        catalog can be written; its index then catches up at once.
        """
        if not self.readonly:
            with self.writing("upgrade of the catalog"):
                if self.catalog.relink_pending():
                    self._relink()
                if self.catalog.pending("rebuild_index"):
                    # The index of an older version lacks the new fields: it is made again.
                    with contextlib.suppress(IndexUnavailableError):
                        self._rebuild_index(None)
                    self.catalog.done("rebuild_index")
            return
        self.catalog.close()
        try:
            # If the index cannot follow, the next writer or reindex finishes it.
            with (
                Archive(self.root, on_wait=on_wait) as writer,
                contextlib.suppress(IndexUnavailableError),
            ):
                writer.finish_pending_index()
        except StorageError as exc:
            raise PhotoArchiveError(
                f"the catalog of {self.root} is from an older photoarchive and must be "
                f"upgraded, which needs write access ({exc}); run any command that writes "
                "(photoarchive reindex) where the archive is writable"
            ) from None
        self.catalog = Catalog(catalog_location(self.root, self.settings), readonly=True)
        self.index.close()
        self.index = self._engine()

    def _relink(self) -> int:
        """Link every photo to its picture again by the identity rules (see Catalog.relink)."""
        from photoarchive.credits import alias_table
        from photoarchive.identity import supplier_of
        from photoarchive.notices import read_notice

        try:
            aliases = self.policy.aliases
        except ConfigError:
            aliases = alias_table()  # a broken rights.toml must not stop the upgrade

        def notice_of(
            record: PhotoRecord, sources: dict[str, dict[str, Any]]
        ) -> tuple[str, str] | None:
            notice = read_notice(record, sources)
            return (notice.kind, notice.reason) if notice else None

        return self.catalog.relink(lambda credit: supplier_of(credit, aliases), notice_of)

    @property
    def policy(self) -> RightsPolicy:
        """The rights policy from rights.toml (ConfigError if broken), read again whenever
        the file has changed, so a long-running desk judges by the policy as it stands."""
        path = self.root / POLICY_FILE
        state = file_state(path)
        if self._policy is None or state != self._policy_state:
            self._policy = None
            self._policy = load_policy(path)
            self._policy_state = state
        return self._policy

    def thesaurus(self) -> Thesaurus:
        """The desk's thesaurus from thesaurus.toml (ConfigError if broken), read again
        whenever the file has changed; the starter list if the archive has none."""
        from photoarchive.search.thesaurus import THESAURUS_FILE, load_thesaurus

        return load_thesaurus(self.root / THESAURUS_FILE)

    def writing(self, what: str) -> AbstractContextManager[None]:
        """Hold the archive's writer lock for a block that changes the catalog or index.

        `what` names the work for writers that wait behind it ("reindex", "edit of ...").
        """
        if self.readonly:
            raise PhotoArchiveError("this archive was opened read-only")
        return self.lock.hold(what)

    def between_writes(self, what: str) -> AbstractContextManager[None]:
        """Hold the writer lock, also from a read-only archive, to see catalog, files and
        index as no writer is changing them (verify confirms its findings this way)."""
        return self.lock.hold(what)

    def writers_since(self) -> float | None:
        """Return when the oldest writer still running started (time.time()), or None if
        none runs: files and uploads begun before it are no running writer's."""
        from photoarchive.locking import running_writers

        return min((w.since for w in running_writers(self.root)), default=None)

    def running_writer(self, what: str) -> AbstractContextManager[None]:
        """Register this process as a running writer (files it stores before cataloguing
        them are then safe from verify --prune) for the block."""
        from photoarchive.locking import registered_writer

        if self.readonly:
            raise PhotoArchiveError("this archive was opened read-only")
        return registered_writer(self.root, what)

    def check_rights(
        self,
        id_or_prefix: str,
        use: str | None = None,
        at: datetime | None = None,
        allow_superseded: bool = False,
    ) -> Verdict:
        """Return the rights verdict for one photo (default use of the policy, now).

        An older version of a refiled picture is blocked ("superseded by ...") unless
        `allow_superseded`: then it is judged on its own facts.
        """
        record = self.catalog.get(self.resolve(id_or_prefix)).record
        return self._judge([record], use, at, allow_superseded)[record.sha256]

    def verdicts(
        self,
        records: Iterable[PhotoRecord],
        use: str | None = None,
        at: datetime | None = None,
        allow_superseded: bool = False,
    ) -> list[tuple[PhotoRecord, Verdict]]:
        """Return each record with its rights verdict (see `check_rights`)."""
        listed = list(records)
        judged = self._judge(listed, use, at, allow_superseded)
        return [(r, judged[r.sha256]) for r in listed]

    def states(self, shas: Iterable[str]) -> dict[str, PhotoState]:
        """Return where each photo stands: live, superseded, killed or notice."""
        return self.catalog.standing(shas)

    def _judge(
        self,
        records: list[PhotoRecord],
        use: str | None,
        at: datetime | None,
        allow_superseded: bool = False,
        standing: dict[str, PhotoState] | None = None,
    ) -> dict[str, Verdict]:
        """Judge records; `standing` is where they stand if the caller has it already."""
        from photoarchive.rights import check_rights

        moment = at or _now()
        shas = [r.sha256 for r in records]
        sources = self.catalog.sources_many(shas)
        if standing is None:
            standing = self.catalog.standing(shas)
        return {
            r.sha256: check_rights(
                r,
                sources.get(r.sha256, {}),
                self.policy,
                use or self.policy.default_use,
                moment,
                withheld=withheld(standing.get(r.sha256), allow_superseded),
            )
            for r in records
        }

    def close(self) -> None:
        """Release the catalog connection, the index searcher and the store's connections."""
        self.index.close()
        self.catalog.close()
        self.store.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingest ---------------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[str | os.PathLike[str]],
        options: IngestOptions | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest files and folders; see `photoarchive.ingest.ingest_paths`."""
        from photoarchive.ingest import ingest_paths

        return ingest_paths(self, paths, options, on_progress)

    def finish_pending_index(self) -> int:
        """Index every catalogued photo not yet confirmed in the index; return how many.

        A missing, damaged, outdated or foreign index raises IndexUnavailableError (saying
        to run reindex): a writer never makes a new index holding only its own photos.
        """
        with self.writing("index update"):
            self.index.check()
            # A reindex killed half-way left its folders; none runs while we hold the lock.
            for leftover in self.index.leftovers():
                if leftover.exists():
                    shutil.rmtree(leftover, ignore_errors=True)
            pending = self.catalog.pending_index()
            if not pending:
                return 0
            if len(pending) >= BULK_INDEX:
                # Tens of thousands at once (a bulk load, an old archive): a rebuild with one
                # writer process per core is quicker than updating document by document.
                return self.reindex()
            photos = self.catalog.get_many(pending)
            count = self.index.add(self._entries([p.record for p in photos.values()]))
            self.catalog.mark_indexed(photos)
            return count

    # -- lookup ---------------------------------------------------------------------------
    def resolve(self, id_or_prefix: str) -> str:
        """Return the sha256 for an id, a unique id prefix or a full hash."""
        return self.catalog.resolve(id_or_prefix)

    def get(self, id_or_prefix: str) -> PhotoRecord:
        """Return the record of one photo."""
        return self.catalog.get(self.resolve(id_or_prefix)).record

    def stored(self, id_or_prefix: str) -> StoredPhoto:
        """Return the catalog row (record, stored extension, warnings) of one photo."""
        return self.catalog.get(self.resolve(id_or_prefix))

    def sources(self, id_or_prefix: str) -> dict[str, dict[str, Any]]:
        """Return each field's value per metadata family: {field: {family: value}}."""
        return self.catalog.sources(self.resolve(id_or_prefix))

    def original_key(self, id_or_prefix: str) -> str:
        """Return the store key of a photo's original file."""
        from photoarchive.store import original_key

        photo = self.stored(id_or_prefix)
        return original_key(photo.record.sha256, photo.ext)

    def search(
        self,
        query: str,
        limit: int = 20,
        page: int = 1,
        cleared_for: str | None = None,
        at: datetime | None = None,
        filters: SearchFilters | None = None,
        verdicts: Iterable[str] | None = None,
        count_agencies: bool = False,
        seconds: float | None = None,
        sort: str = "relevance",
    ) -> SearchPage:
        """Return one page of records matching a query, best first, with rights verdicts;
        a query without words lists every photo the filters let through, newest arrivals
        first unless `sort` says otherwise.

        `filters` narrow by agency and date taken; `selection:NAME` in the query narrows to
        a selection's photos (SelectionNotFoundError if there is none). With `cleared_for`
        a use, only photos whose verdict for that use passes (cleared or conditional) at
        `at` (default now) are kept; with `verdicts`, only photos whose verdict (for the
        policy's default use, or `cleared_for`) is one of them. Totals and agency counts
        follow what is kept; a page past the last is empty. The index search stops with
        QueryTimeoutError after `seconds` (default: the archive's query_seconds setting).
        `sort` is "relevance" (best first), "date" (newest taken first) or "ingested"
        (newest arrivals first).
        """
        from photoarchive.rights import PASSING
        from photoarchive.search.deadline import Deadline
        from photoarchive.search.query import build_query
        from photoarchive.search.results import SORTS

        if sort not in SORTS:
            raise QueryError(f"unknown order '{sort}': choose {', '.join(SORTS)}")
        if "selection:" in query.lower():
            from photoarchive.selections import narrow

            # `selection:NAME` narrows to the selection's photos, as a filter.
            query, filters = narrow(self, query, filters)
        deadline = Deadline.after(self.settings.query_seconds if seconds is None else seconds)
        moment = at or _now()
        use = cleared_for or self.policy.default_use
        parsed = build_query(query, filters, self.thesaurus())
        if not query.strip() and sort == "relevance":
            sort = "ingested"  # no words to rank by: the newest arrivals first
        wanted = set(verdicts) if verdicts else None
        if cleared_for is not None:
            wanted = (wanted or set(PASSING)) & set(PASSING)
        narrowed = filters
        if wanted is not None:
            narrowed = self._verdict_filter(filters or SearchFilters(), wanted, use, moment)
        stale = False
        if wanted is None or narrowed is not None:
            found = self.index.search(
                parsed,
                limit=limit,
                page=page,
                filters=narrowed,
                count_agencies=count_agencies,
                deadline=deadline,
                sort=sort,
            )
            hits, total, counts = found.hits, found.total, found.agency_counts
            photos = self.catalog.get_many(h.sha256 for h in hits)
            standing = self.catalog.standing(photos)
            judged = self._judge([p.record for p in photos.values()], use, moment, False, standing)
            # The index only narrows the candidates: each result's verdict is judged again
            # from the catalog, and a result the index let through wrongly (a stale entry)
            # means the index cannot be trusted for this search.
            stale = wanted is not None and any(v.status not in wanted for v in judged.values())
        if stale or (wanted is not None and narrowed is None):
            assert wanted is not None
            # Judge every hit from the catalog: the facts in the index were read in another
            # time zone than the policy's, or are out of date.
            found = self.index.search(
                parsed, limit=None, filters=filters, deadline=deadline, sort=sort
            )
            photos = self.catalog.get_many(h.sha256 for h in found.hits)
            standing = self.catalog.standing(photos)
            every = self._judge([p.record for p in photos.values()], use, moment, False, standing)
            judged = {sha: v for sha, v in every.items() if v.status in wanted}
            kept = [h for h in found.hits if h.sha256 in judged]
            total = len(kept)
            counts = {}
            if count_agencies:
                for h in kept:
                    agency = photos[h.sha256].record.agency
                    if agency:
                        counts[agency] = counts.get(agency, 0) + 1
            hits = kept[(page - 1) * limit : page * limit]
        captions = {
            h.sha256: photos[h.sha256].record.caption or ""
            for h in hits
            if h.sha256 in photos and photos[h.sha256].record.caption
        }
        marked = highlight(found.terms, captions)
        revisions = self.catalog.revisions(h.sha256 for h in hits)
        results = [
            SearchResult(
                record=photos[h.sha256].record,
                score=h.score,
                caption_highlighted=marked.get(h.sha256),
                verdict=judged[h.sha256],
                revision=revisions.get(h.sha256, 0),
                state=standing[h.sha256].state if h.sha256 in standing else "live",
                superseded_by=superseded_by(standing.get(h.sha256)),
            )
            for h in hits
            if h.sha256 in photos
        ]
        return SearchPage(results=results, total=total, agency_counts=counts)

    def _verdict_filter(
        self, filters: SearchFilters, wanted: set[str], use: str, at: datetime
    ) -> SearchFilters | None:
        """Return `filters` narrowed to photos whose verdict is wanted, judging each distinct
        set of rights facts in the index once; None if the index's facts were read in
        another time zone than the policy's (every hit must then be judged)."""
        from dataclasses import replace

        passing = self._passing.passing(
            self.index.rights_keys(), self.policy, use, frozenset(wanted), at
        )
        if passing is None:
            return None
        return replace(filters, rights=passing, killed_passes="blocked" in wanted)

    def _entries(self, records: list[PhotoRecord]) -> list[Entry]:
        """Return the index entries of catalog records: with their states and rights facts."""
        from photoarchive.indexing import entries_for

        return entries_for(self.catalog, self.policy.timezone, records)

    # -- maintenance ----------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Return counts and bytes in all, by credit, by agency and by format, the search
        engine, and where the files are (the folder, or s3://bucket/prefix)."""

        def table(column: str) -> list[dict[str, Any]]:
            return [
                {"value": v, "photos": n, "bytes": b} for v, n, b in self.catalog.counts_by(column)
            ]

        return {
            "photos": self.catalog.count(),
            "bytes": self.catalog.total_bytes(),
            "search_engine": self.index.name,
            "storage": self.store.where,
            "by_credit": table("credit"),
            "by_agency": table("agency"),
            "by_format": table("format"),
        }

    def reindex(
        self, on_progress: Callable[[int], None] | None = None, engine: str | None = None
    ) -> int:
        """Rebuild the search index from the catalog; return how many photos it holds.

        With `engine` ("whoosh" or "tantivy") other than the archive's, the new engine's
        index is built, archive.toml is set to it, and the old engine's index is removed.
        The writer lock is held throughout, so nothing written meanwhile is lost: other
        writers wait (and say so), readers go on with the old index until the new one is
        swapped in whole.
        """
        with self.writing("reindex"):
            if engine is None or engine == self.index.name:
                return self._rebuild_index(on_progress)
            from photoarchive.config import set_search_engine
            from photoarchive.search import require_engine

            new = self._engine(require_engine(engine))
            count = new.rebuild(self.index_documents(on_progress))
            set_search_engine(self.root / SETTINGS_FILE, engine)
            self.settings = load_settings(self.root / SETTINGS_FILE)
            old, self.index = self.index, new
            old.close()
            for folder in (old.folder, *old.leftovers()):
                shutil.rmtree(folder, ignore_errors=True)
            self.catalog.mark_indexed(self.catalog.all_hashes())
            return count

    def move_catalog(
        self,
        url: str,
        schema: str | None = None,
        on_progress: Callable[[str, int], None] | None = None,
    ) -> MigrationReport:
        """Copy the archive's catalog to a new schema on the PostgreSQL server `url`, check
        the copy, and name it in archive.toml: the archive then uses the server. The
        catalog.sqlite file is left as it was. The writer lock is held throughout, so the
        catalog cannot change while it is copied."""
        from photoarchive.catalog.migrate import copy_catalog
        from photoarchive.config import set_settings

        if self.catalog.path is None:
            raise PhotoArchiveError(
                f"the catalog of {self.root} is on a server already ({self.catalog.where})"
            )
        target = _server_catalog(url, schema)
        with self.writing("move of the catalog"):
            report = copy_catalog(self.catalog.path, target, on_progress)
            set_settings(
                self.root / SETTINGS_FILE,
                {"catalog": target.url, "catalog_schema": target.schema},
            )
            self.settings = load_settings(self.root / SETTINGS_FILE)
            self._settings_state = file_state(self.root / SETTINGS_FILE)
            old, self.catalog = self.catalog, Catalog(target, readonly=self.readonly)
            old.close()
        return report

    def move_storage(
        self,
        url: str,
        endpoint: str | None = None,
        on_progress: Callable[[str, int, int], None] | None = None,
    ) -> StorageMove:
        """Copy the archive's originals and renditions from its folder to object storage
        (s3://bucket/prefix at `endpoint`), check every object against its file, and name
        the store in archive.toml: the archive then keeps its files there. The folder's
        files are left as they were.

        The bulk is copied beside other writers; what they add meanwhile is copied holding
        the writer lock, with the check. A move stopped half-way is resumed by running it
        again: files the store holds at the same size are not sent again.
        """
        from photoarchive.config import set_settings
        from photoarchive.store.local import FolderStore
        from photoarchive.store.migrate import StorageMove, check_files, copy_files
        from photoarchive.store.s3 import S3Store, parse_location

        if not isinstance(self.store, FolderStore):
            raise PhotoArchiveError(f"the files of {self.root} are on {self.store.where} already")
        source = self.store
        target = S3Store(parse_location(url), endpoint=endpoint or "")
        archive_id = self.catalog.archive_id()
        assert archive_id is not None
        target.claim(archive_id)  # resumed: it is this archive's already
        report = StorageMove(target.where)

        def told(step: str) -> Callable[[int, int], None] | None:
            if on_progress is None:
                return None
            return lambda done, total: on_progress(step, done, total)

        copy_files(source, target, report, told("copied"))
        with self.writing("move of the files"):
            # What other writers added meanwhile (the rest is there: not counted again).
            already = report.already_there
            copy_files(source, target, report, told("copied"))
            report.already_there = already
            check_files(source, target, report, told("checked"))
            values = {"storage": target.where}
            if endpoint:
                values["storage_endpoint"] = endpoint
            set_settings(self.root / SETTINGS_FILE, values)
            self.settings = load_settings(self.root / SETTINGS_FILE)
            self._settings_state = file_state(self.root / SETTINGS_FILE)
            self.store = open_store(self.root, self.settings)
        target.close()
        return report

    def _rebuild_index(self, on_progress: Callable[[int], None] | None) -> int:
        count = self.index.rebuild(self.index_documents(on_progress))
        self.catalog.mark_indexed(self.catalog.all_hashes())
        return count

    def index_documents(
        self, on_progress: Callable[[int], None] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the index document of every photo (by worker processes for a large
        archive); `on_progress` is told how many are done."""
        from photoarchive.indexing import index_documents

        return index_documents(self.catalog, self.policy.timezone, on_progress)

    def index_entries(
        self,
        photos: Iterable[StoredPhoto] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> Iterator[Entry]:
        """Yield the index entries the catalog makes now, of `photos` (default: every
        photo), 1,000 photos at a time; `on_progress` is told how many are done."""
        from photoarchive.indexing import entries_in_batches

        chosen = self.catalog.iter_photos() if photos is None else photos
        return entries_in_batches(self.catalog, self.policy.timezone, chosen, on_progress)

    def verify(
        self,
        repair: bool = False,
        prune: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> VerifyReport:
        """Rehash originals, compare catalog, files and index; optionally repair."""
        from photoarchive.verify import verify_archive

        return verify_archive(self, repair=repair, prune=prune, on_progress=on_progress)


def _now() -> datetime:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def is_archive(root: Path) -> bool:
    """Return True if `root` holds an initialised archive."""
    return (root / SETTINGS_FILE).is_file()


def open_archive(
    root: str | os.PathLike[str],
    readonly: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> Archive:
    """Open an initialised archive; raise ArchiveNotFoundError if there is none, and
    CatalogMissingError if its catalog is missing or empty.

    A read-only archive (searches, the web desk) never writes anything, and can be read on
    a read-only or full file system. `on_wait` is told when a writer waits for another.
    """
    path = Path(root)
    if not is_archive(path):
        raise ArchiveNotFoundError(
            f"no archive at {path} (create one with 'photoarchive --archive {path} init')"
        )
    return Archive(path, readonly=readonly, on_wait=on_wait)


#: The environment variable naming the search engine of archives made by `init`.
ENGINE_VARIABLE = "PHOTOARCHIVE_SEARCH_ENGINE"
#: The environment variable naming the PostgreSQL server of the catalogs `init` makes.
CATALOG_VARIABLE = "PHOTOARCHIVE_CATALOG"
#: The environment variable naming the object storage (s3://bucket/prefix) under which
#: `init` puts each new archive's files, in a folder named by the archive's id.
STORAGE_VARIABLE = "PHOTOARCHIVE_STORAGE"


def init_archive(
    root: str | os.PathLike[str],
    search_engine: str | None = None,
    catalog: str | None = None,
    catalog_schema: str | None = None,
    storage: str | None = None,
    storage_endpoint: str | None = None,
) -> tuple[Archive, bool]:
    """Create an archive (or open the existing one); return it and whether it was created.

    A new archive searches with `search_engine` ("whoosh" or "tantivy"); by default with
    $PHOTOARCHIVE_SEARCH_ENGINE, else Whoosh. Its catalog is on the PostgreSQL server
    `catalog` (by default $PHOTOARCHIVE_CATALOG), in a new schema (`catalog_schema`, by
    default one named for the archive), else in the folder's catalog.sqlite. Its files are
    on the object storage `storage` (s3://bucket/prefix, at `storage_endpoint`; by default
    under $PHOTOARCHIVE_STORAGE, in a folder named by the archive's id), else in the folder.
    """
    path = Path(root)
    if is_archive(path):
        # An archive made before the rights policy or the thesaurus existed gets the
        # starter files.
        if not (path / POLICY_FILE).exists():
            atomic_write(path / POLICY_FILE, STARTER_POLICY.encode("utf-8"))
        _write_starter_thesaurus(path)
        return Archive(path), False
    from photoarchive.search import require_engine

    server = catalog if catalog is not None else os.environ.get(CATALOG_VARIABLE, "")
    # Search follows the catalog unless chosen.
    engine = require_engine(
        search_engine or os.environ.get(ENGINE_VARIABLE) or ("postgresql" if server else "whoosh")
    )
    location: Path | ServerCatalog = path / CATALOG_FILE
    if server:
        location = _server_catalog(server, catalog_schema)
    elif engine == "postgresql":
        raise ConfigError(
            "the postgresql search engine needs the catalog on PostgreSQL (init --catalog URL)"
        )
    objects = _object_storage(storage, storage_endpoint)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if objects is None:
            for sub in ("originals", "renditions"):
                (path / sub).mkdir(exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create archive at {path}: {exc.strerror}") from None
    settings = starter_settings_text()
    # The catalog, store and index first, archive.toml last: a folder with archive.toml is
    # complete. This is the one place a catalog is created.
    made = Catalog(location, create=True)
    archive_id = made.archive_id()
    made.close()
    assert archive_id is not None  # a new catalog has its id
    if objects is not None:
        store, exact = objects
        if not exact:  # one folder per archive under $PHOTOARCHIVE_STORAGE
            store = store.below(archive_id)
        store.claim(archive_id)
        settings += store.settings_text()
        store.close()
    if not (path / POLICY_FILE).exists():
        atomic_write(path / POLICY_FILE, STARTER_POLICY.encode("utf-8"))
    _write_starter_thesaurus(path)
    database = (location.url, location.schema) if isinstance(location, ServerCatalog) else None
    open_engine(engine, path, archive_id, database).create()
    settings = settings.replace('search_engine = "whoosh"', f'search_engine = "{engine}"')
    if isinstance(location, ServerCatalog):
        from photoarchive.config import toml_string

        settings += (
            "# the catalog is on this PostgreSQL server, in this schema\n"
            f"catalog = {toml_string(location.url)}\n"
            f"catalog_schema = {toml_string(location.schema)}\n"
        )
    atomic_write(path / SETTINGS_FILE, settings.encode("utf-8"))
    return Archive(path), True


def _object_storage(storage: str | None, endpoint: str | None) -> tuple[S3Store, bool] | None:
    """Return the object store a new archive keeps its files in (and whether `storage` named
    it exactly, or $PHOTOARCHIVE_STORAGE the place for archives' folders), checked to be
    reachable and not another archive's; None for the archive folder."""
    chosen = storage if storage is not None else os.environ.get(STORAGE_VARIABLE, "")
    if not chosen:
        if endpoint:
            raise ConfigError("--storage-endpoint needs --storage s3://BUCKET/PREFIX")
        return None
    from photoarchive.store.s3 import S3Store, parse_location

    if not chosen.startswith("s3://"):
        raise ConfigError(f"storage must be s3://BUCKET/PREFIX, not {chosen[:80]!r}")
    store = S3Store(parse_location(chosen), endpoint=endpoint or "")
    store.check()
    owner = store.owner() if storage is not None else None
    if owner is not None:
        raise StorageError(f"{store.where} holds the files of another archive ({owner})")
    return store, storage is not None


def _server_catalog(url: str, schema: str | None) -> ServerCatalog:
    """Return the catalog at `url` in `schema` (default: a new name), or raise ConfigError
    if either cannot be one."""
    import secrets

    from photoarchive.config import check_schema_name
    from photoarchive.postgres import is_server_url

    if not is_server_url(url):
        raise ConfigError(f"{url[:80]!r} is not a PostgreSQL URL (postgresql://USER@HOST/DATABASE)")
    return ServerCatalog(url, check_schema_name(schema or f"photoarchive_{secrets.token_hex(4)}"))


def _write_starter_thesaurus(root: Path) -> None:
    from photoarchive.search.thesaurus import THESAURUS_FILE, starter_text

    if not (root / THESAURUS_FILE).exists():
        atomic_write(root / THESAURUS_FILE, starter_text().encode("utf-8"))
