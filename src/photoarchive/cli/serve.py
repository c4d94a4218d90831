"""The serve, searchd and contact-sheet commands: the desk in a browser, the search service
for scripts, and printed sheets."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from photoarchive.cli.output import open_from_context, say


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; the default serves this machine only.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    default=None,
    help="Worker processes, each with its own archive and search index reader: searches in "
    "different workers run in parallel.  [default: one per CPU core, 2 to 8]",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Requests each worker process serves at once.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    metavar="NAME",
    multiple=True,
    callback=lambda ctx, param, value: _host_names(value),
    help="Also answer to this name in the Host header (a reverse proxy's public name; "
    "NAME:PORT for that port only). Repeatable. Loopback names and --host always work.",
)
@click.option(
    "--query-seconds",
    type=click.FloatRange(0.1, 3600),
    default=5.0,
    show_default=True,
    help="Longest a search may run; a longer one is stopped and answered with a 503. A worker "
    "process stuck as a whole for 10 s longer than this is stopped and replaced.",
)
@click.option(
    "--renditions-by-link",
    "rendition_links",
    is_flag=True,
    help="With the archive's files on object storage: browsers read thumbnails and previews "
    "from the store itself, by links the desk signs for 5 minutes, rather than through the "
    "desk. The store's address must be reachable from the editors' browsers.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    workers: int | None,
    threads: int,
    allowed_hosts: tuple[str, ...],
    query_seconds: float,
    rendition_links: bool,
) -> None:
    """Serve the search desk in a browser (read-only).

    Search with the same query language as the command line, scan thumbnails with
    captions, credits and rights badges, open a photo to see every field, its rights
    verdict and the credit to print, and download the original.

    The desk answers only to its own names (the Host header): loopback names, --host, and
    each --allowed-host; any other name gets a 400, so that a web page cannot reach it
    through a DNS name of its own (DNS rebinding). Behind a reverse proxy that passes on
    its public name, give that name with --allowed-host.

    The desk runs in several worker processes (gunicorn), each opening the archive for
    itself, so that editors' searches run side by side on the machine's cores; each
    follows new photos and a reindex as they are written. Ctrl-C or SIGTERM stops them all.

    Example:

    \b
        photoarchive serve --port 8080
        photoarchive serve --workers 4 --allowed-host photos.example.com
    """
    from functools import partial

    from photoarchive.web import create_app, server
    from photoarchive.web.hosts import desk_names

    names = desk_names(host, allowed_hosts)
    # Checked here, once, before any worker starts: a broken archive or rights.toml is one
    # error line rather than a worker failing to boot.
    make = partial(
        create_app,
        ctx.obj,
        allowed_hosts=names,
        query_seconds=query_seconds,
        rendition_links=rendition_links,
    )
    make()
    if not _is_loopback(host):
        _require_accounts(ctx, host)
    listener = server.listen(host, port)
    if names:
        say(f"Answering to loopback names and {', '.join(names)}")
    count = workers or server.default_workers()
    processes = f"{count} worker process" + ("es" if count > 1 else "")
    say(f"Serving {ctx.obj} at http://{_url_host(host)}:{port}/ with {processes} (Ctrl-C to stop)")
    server.run(
        make,
        listener,
        server.server_options(count, threads, query_seconds),
    )


@click.command()
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Searches answered at once, each thread with its own archive reader.",
)
@click.pass_context
def searchd(ctx: click.Context, threads: int) -> None:
    """Keep the archive open and answer `photoarchive search --json` from it.

    Scripts that search often (a CMS hand-off, a monitor) then get their answer in tens of
    milliseconds: the command passes its question to this service through the socket
    `searchd.sock` in the archive folder (readable and writable by this user alone) instead
    of starting the search itself. The answers are the same, new photos and edits included;
    when the service is not running, or does not answer, the command searches by itself.
    Ctrl-C or SIGTERM stops it.

    Example:

    \b
        photoarchive searchd &
        photoarchive search 'kharkiv tank' --json
    """
    from photoarchive.cli.search_service import SearchService

    with open_from_context(ctx):
        pass  # a missing or damaged archive is one error line before any socket is made
    service = SearchService(Path(ctx.obj), threads)
    service.start()
    service.serve(
        on_ready=lambda: say(
            f"Answering searches of {ctx.obj} at {service.path} with {threads} "
            f"thread{'s' if threads > 1 else ''} (Ctrl-C to stop)"
        )
    )


def _host_names(values: tuple[str, ...]) -> tuple[str, ...]:
    from photoarchive.web.hosts import split_host

    for value in values:
        if split_host(value) is None:
            raise click.BadParameter(
                f"'{value}' is not a host name (give NAME or NAME:PORT, e.g. photos.example.com)"
            )
    return values


def _require_accounts(ctx: click.Context, host: str) -> None:
    """Refuse to serve beyond this machine an archive nobody has to sign in to."""
    from photoarchive.accounts import has_accounts
    from photoarchive.errors import ServeError

    with open_from_context(ctx) as archive:
        if not has_accounts(archive):
            raise ServeError(
                f"serving on {host} needs accounts, so that everyone signs in: add the first "
                "with 'photoarchive users add NAME --role admin' (or serve on 127.0.0.1)"
            )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("contact-sheet")
@click.argument("query")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The sheet to write: .pdf (all pages) or .jpg (one file per page).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 2000),
    default=100,
    show_default=True,
    help="Most photos on the sheet, best matches first.",
)
@click.option("--columns", type=click.IntRange(1, 8), default=4, show_default=True)
@click.option("--rows", type=click.IntRange(1, 10), default=5, show_default=True)
@click.option(
    "--title",
    metavar="TEXT",
    help='The heading printed on every page.  [default: "Search: QUERY"]',
)
@click.pass_context
def contact_sheet(
    ctx: click.Context,
    query: str,
    output: Path,
    limit: int,
    columns: int,
    rows: int,
    title: str | None,
) -> None:
    """Print the photos a search finds as a contact sheet: thumbnails with id, rights verdict,
    caption and credit. A .pdf is a vector PDF of all pages; a .jpg is one image per page.
    `selection:NAME` prints a selection in its order.

    Example:

    \b
        photoarchive contact-sheet "credit:reuters date:2022-09" -o planning.pdf \\
            --title "Planning, Thursday 10:30"
        photoarchive contact-sheet selection:front-page -o front-page.pdf
    """
    from photoarchive.atomic import atomic_write
    from photoarchive.contactsheet import (
        encode_jpeg,
        page_count,
        render_pages,
        render_pdf,
        sheet_entries,
    )
    from photoarchive.errors import PhotoArchiveError

    suffix = output.suffix.lower()
    if suffix not in (".pdf", ".jpg", ".jpeg"):
        raise PhotoArchiveError(f"{output}: the sheet must be a .pdf or a .jpg")
    from photoarchive.selections import names_selection, selection_records

    with open_from_context(ctx) as archive:
        if names_selection(query):
            records = selection_records(archive, query, limit)  # in the selection's order
        else:
            records = [r.record for r in archive.search(query, limit=limit).results]
        entries = sheet_entries(archive, records)
    if not entries:
        raise PhotoArchiveError(f"no photos match '{query}': nothing to print")
    heading = title if title is not None else f"Search: {query}"
    if suffix == ".pdf":
        atomic_write(output, render_pdf(entries, heading, columns=columns, rows=rows))
        written = [output]
        pages = page_count(len(entries), columns, rows)
    else:
        sheets = render_pages(entries, heading, columns=columns, rows=rows)
        written = [
            output if n == 1 else output.with_stem(f"{output.stem}-{n}")
            for n in range(1, len(sheets) + 1)
        ]
        for path, sheet in zip(written, sheets, strict=True):
            atomic_write(path, encode_jpeg(sheet))
        pages = len(sheets)
    say(f"Wrote {len(entries)} photos on {pages} page(s): {', '.join(str(p) for p in written)}")


COMMANDS = [serve, searchd, contact_sheet]
