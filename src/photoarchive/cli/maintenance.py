"""Archive-level commands: init, stats, reindex, verify."""

from __future__ import annotations

import click

from photoarchive.cli.output import echo, open_from_context, print_json, say
from photoarchive.sizes import human_size


@click.command()
@click.option(
    "--engine",
    type=click.Choice(["whoosh", "tantivy", "postgresql"]),
    help="The search engine of a new archive (default: $PHOTOARCHIVE_SEARCH_ENGINE, else "
    "postgresql with a catalog on PostgreSQL, else whoosh); tantivy needs pip install "
    "'photoarchive[tantivy]'.",
)
@click.option(
    "--catalog",
    metavar="URL",
    help="Keep the catalog on this PostgreSQL server (postgresql://USER@HOST/DATABASE; "
    "default: $PHOTOARCHIVE_CATALOG, else catalog.sqlite in the folder).",
)
@click.option(
    "--catalog-schema",
    metavar="NAME",
    help="The new schema for the catalog's tables on that server (default: photoarchive_ "
    "and 8 random hex digits).",
)
@click.option(
    "--storage",
    metavar="s3://BUCKET/PREFIX",
    help="Keep originals and renditions on S3-compatible object storage (default: "
    "$PHOTOARCHIVE_STORAGE, with a folder per archive under it, else the archive folder). "
    "Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the AWS SDK's "
    "other places, or storage_access_key and storage_secret_key in archive.toml).",
)
@click.option(
    "--storage-endpoint",
    metavar="URL",
    help="The object store's URL, for a server other than AWS (https://s3.newsroom:7480; "
    "default: $AWS_ENDPOINT_URL).",
)
@click.pass_context
def init(
    ctx: click.Context,
    engine: str | None,
    catalog: str | None,
    catalog_schema: str | None,
    storage: str | None,
    storage_endpoint: str | None,
) -> None:
    """Create an archive folder (settings, catalog, empty index).

    Running it on an existing archive changes nothing (switch engines with reindex
    --engine; move an embedded catalog to a server with migrate).

    Example:

    \b
        photoarchive --archive /srv/photos init
        photoarchive --archive /srv/photos init --engine tantivy
        photoarchive --archive /mnt/desk/photos init --catalog postgresql://desk@db/photos
        photoarchive --archive /mnt/desk/photos init --catalog postgresql://desk@db/photos \\
            --storage s3://newsroom-photos/desk --storage-endpoint https://s3.newsroom:7480
    """
    from photoarchive.archive import init_archive

    archive, created = init_archive(
        ctx.obj,
        search_engine=engine,
        catalog=catalog,
        catalog_schema=catalog_schema,
        storage=storage,
        storage_endpoint=storage_endpoint,
    )
    with archive:
        say(f"{'Created' if created else 'Already an archive:'} {archive.root}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Count photos and bytes, by credit, agency and format.

    Example:

    \b
        photoarchive stats --json
    """
    with open_from_context(ctx) as archive:
        data = archive.stats()
    if as_json:
        print_json(data)
        return
    echo(
        f"{data['photos']} photos, {human_size(data['bytes'])}; "
        f"search engine: {data['search_engine']}; files in {data['storage']}"
    )
    for title, key in (
        ("By credit", "by_credit"),
        ("By agency", "by_agency"),
        ("By format", "by_format"),
    ):
        echo()
        echo(f"{title}:")
        for row in data[key]:
            echo(f"  {row['photos']:>6}  {human_size(row['bytes']):>9}  {row['value'] or '(none)'}")


@click.command()
@click.option(
    "--reread",
    is_flag=True,
    help="First read every original again for the fields this version reads that older "
    "ones did not (IPTC Extension, caption languages, provenance); desk values and edits "
    "are kept.",
)
@click.option(
    "--engine",
    type=click.Choice(["whoosh", "tantivy", "postgresql"]),
    help="Switch the archive to this search engine: its index is built, archive.toml is set "
    "to it and the other engine's index is removed. tantivy (pip install "
    "'photoarchive[tantivy]') answers in milliseconds at a million photos; postgresql "
    "keeps the index on the catalog's server (a catalog on PostgreSQL only).",
)
@click.pass_context
def reindex(ctx: click.Context, reread: bool, engine: str | None) -> None:
    """Rebuild the search index from the catalog.

    The catalog is the record of truth; the index can always be rebuilt from it. After
    upgrading photoarchive, `reindex --reread` fills the fields older versions did not read.
    Searches go on with the old index until the new one is complete; a desk already running
    keeps the engine it started with until it is restarted.

    Example:

    \b
        photoarchive reindex
        photoarchive reindex --reread
        photoarchive reindex --engine tantivy
    """
    with open_from_context(ctx, write=True) as archive:
        total = archive.catalog.count()
        if reread:
            from photoarchive.reread import reread_originals

            changed = reread_originals(
                archive, on_progress=lambda n, of: say(f"read {n}/{of} originals")
            )
            say(f"Read the originals again: {changed} photos have new fields.")
        before = archive.index.name
        count = archive.reindex(on_progress=lambda n: say(f"indexed {n}/{total}"), engine=engine)
        after = archive.index.name
    switched = f" The archive now searches with {after} (was {before})." if after != before else ""
    say(f"Indexed {count} photos with {after}.{switched}")


@click.command()
@click.option(
    "--repair",
    is_flag=True,
    help="Make missing renditions again, rebuild the index where it disagrees with "
    "the catalog, remove temporary files of interrupted writes.",
)
@click.option(
    "--prune",
    is_flag=True,
    help="With --repair: also delete files no photo owns (never a catalogued original).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON on stdout.")
@click.pass_context
def verify(ctx: click.Context, repair: bool, prune: bool, as_json: bool) -> None:
    """Rehash every original and compare catalog, files and index; optionally repair.

    Reports bit rot (an original whose bytes no longer match its hash) by id and path,
    catalogued photos with missing files, files no photo owns, and differences between the
    catalog and the search index. Exits 1 when anything is (still) wrong. Originals are
    never changed, and deleted only by --prune when no photo owns them.

    Example:

    \b
        photoarchive verify
        photoarchive verify --repair
    """
    from dataclasses import asdict

    from photoarchive.errors import PhotoArchiveError

    if prune and not repair:
        raise PhotoArchiveError("--prune deletes files: give it together with --repair")
    with open_from_context(ctx, write=repair) as archive:
        report = archive.verify(
            repair=repair,
            prune=prune,
            on_progress=lambda n, total: say(f"checked {n}/{total}") if n % 500 == 0 else None,
        )
    if as_json:
        print_json({**asdict(report), "ok": report.ok})
    else:
        labels = {
            "corrupt": "original does not match its hash (bit rot)",
            "missing_originals": "original missing",
            "missing_renditions": "rendition missing",
            "orphan_files": "file no photo owns",
            "temp_files": "temporary file of an interrupted write",
            "not_indexed": "catalogued but not in the search index",
            "index_extra": "in the search index but not catalogued",
            "index_stale": "search index entry differs from the catalog",
            "repaired": "repaired",
        }
        for key, label in labels.items():
            for item in getattr(report, key):
                say(f"{label}: {item}")
        if report.index_problem:
            say(f"search index: {report.index_problem}")
        if report.in_flight:
            say(f"{len(report.in_flight)} files being ingested right now (not checked)")
        if report.prune_refused:
            say(report.prune_refused)
        verdict = "all good" if report.ok else "problems found"
        if not report.ok and not repair:
            verdict += " (verify --repair fixes renditions, index and temporary files)"
        say(f"Checked {report.checked} photos: {verdict}.")
    if not report.ok:
        raise SystemExit(1)


@click.command()
@click.option(
    "--to",
    "url",
    metavar="URL",
    help="The PostgreSQL server to move the catalog to: postgresql://USER@HOST/DATABASE.",
)
@click.option(
    "--storage",
    metavar="s3://BUCKET/PREFIX",
    help="The S3-compatible object storage to move originals and renditions to.",
)
@click.option(
    "--storage-endpoint",
    metavar="URL",
    help="The object store's URL, for a server other than AWS (default: $AWS_ENDPOINT_URL).",
)
@click.option(
    "--schema",
    metavar="NAME",
    help="The new schema the catalog's tables go in (default: photoarchive_ and 8 random "
    "hex digits); one server can hold many archives.",
)
@click.option(
    "--keep-engine",
    is_flag=True,
    help="Keep searching with the archive's engine (its index in the folder) rather than "
    "build the search index on the server too.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was copied as JSON on stdout.")
@click.pass_context
def migrate(
    ctx: click.Context,
    url: str | None,
    schema: str | None,
    storage: str | None,
    storage_endpoint: str | None,
    keep_engine: bool,
    as_json: bool,
) -> None:
    """Move the archive's catalog to a PostgreSQL server (--to), its files to object
    storage (--storage), or both.

    Every table is copied in one transaction, the rows of each are counted on both sides,
    and a sample of photos is read back and compared field by field. Only then does
    archive.toml name the server (settings catalog and catalog_schema); catalog.sqlite is
    left as it was. The search index is then built on the server too (search_engine =
    "postgresql"), unless --keep-engine. Files stay where they are.

    Files: every original and rendition the store does not hold yet is sent (originals
    written once, their SHA-256 checked by the server); then every object is checked
    against its file (size and MD5, or read back). Only then does archive.toml name the
    store (setting storage); the folder's files are left as they were. A move that stops
    half-way is resumed by running it again.

    Example:

    \b
        photoarchive --archive /srv/photos migrate --to postgresql://desk@db.newsroom/photos
        photoarchive --archive /srv/photos migrate --storage s3://newsroom-photos/desk \\
            --storage-endpoint https://s3.newsroom:7480
    """
    from photoarchive.archive import open_archive

    if url is None and storage is None:
        raise click.UsageError(
            "say where to move: --to URL (the catalog), --storage s3://... (the files), or both"
        )
    if storage_endpoint and storage is None:
        raise click.UsageError("--storage-endpoint goes with --storage")
    result: dict[str, object] = {}
    with open_archive(ctx.obj) as archive:
        if storage is not None:
            moved = archive.move_storage(
                storage,
                storage_endpoint,
                on_progress=lambda step, done, total: _every_hundred(step, done, total),
            )
            result["storage"] = moved.to_dict()
            if not as_json:
                say(
                    f"Moved the files to {moved.target}: {moved.copied} sent "
                    f"({human_size(moved.bytes_copied)}), {moved.already_there} there already, "
                    f"{moved.checked} checked. The folder's originals/ and renditions/ are "
                    "left as they were."
                )
                for name in moved.skipped:
                    say(f"not moved (not an archive file): {name}")
        if url is not None:
            report = archive.move_catalog(
                url, schema, on_progress=lambda table, n: say(f"copied {n} rows of {table}")
            )
            if not keep_engine:
                total = report.rows.get("photos", 0)
                archive.reindex(
                    on_progress=lambda n: say(f"indexed {n}/{total} on the server"),
                    engine="postgresql",
                )
            report.search_engine = archive.index.name
            result.update(report.to_dict())
            if not as_json:
                say(
                    f"Moved the catalog to {report.url}, schema {report.schema}: "
                    f"{report.rows.get('photos', 0)} photos, {sum(report.rows.values())} rows "
                    f"in all; {report.compared} photos compared; searching with "
                    f"{report.search_engine}. catalog.sqlite is left as it was."
                )
    if as_json:
        print_json(result)


def _every_hundred(step: str, done: int, total: int) -> None:
    if done == total or done % 100 == 0:
        say(f"{step} {done}/{total} files")


COMMANDS = [init, stats, reindex, verify, migrate]
