"""The search command: a readable table, or the records as JSON."""

from __future__ import annotations

import re
import sys

import click

from photoarchive.cli.output import cell, excerpt, open_from_context, print_json, printable, say
from photoarchive.policy import USES
from photoarchive.search import SearchFilters


@click.command()
@click.argument("query")
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="Results per page.",
)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True, help="Page number.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the records as a JSON list on stdout (with score and highlights).",
)
@click.option(
    "--cleared-for",
    type=click.Choice(USES),
    default=None,
    help="Only photos whose rights verdict for this use passes now.",
)
@click.option(
    "--include",
    type=click.Choice(["killed", "superseded", "notice"]),
    multiple=True,
    help="Also show killed pictures, older versions of refiled ones, or kill notices.",
)
@click.option(
    "--query-seconds",
    type=click.FloatRange(0, 3600, min_open=True),
    default=None,
    help="Stop a search that runs longer (default: query_seconds in archive.toml, 10).",
)
@click.pass_context
def search(
    ctx: click.Context,
    query: str,
    limit: int,
    page: int,
    as_json: bool,
    cleared_for: str | None,
    include: tuple[str, ...],
    query_seconds: float | None,
) -> None:
    """Search captions, headlines, keywords, places, by-lines and credits.

    Words must all match (stemmed: "tanks" finds "tank"); use quotes for phrases, OR and
    NOT, and fields: credit:, agency:, byline:, city:, country:, keywords:, source:,
    format:, date:. Dates take ranges such as date:[2022-09-01 to 2022-09-30].

    A query holds at most 1,000 characters and 50 words, and its wildcards at most 2,000
    words of the index; a search running longer than --query-seconds stops with an error.
    A page past the last is empty.

    Example:

    \b
        photoarchive search "abandoned tanks river"
        photoarchive search "credit:reuters date:[2022-09-01 to 2022-09-30]" --json
    """
    with open_from_context(ctx) as archive:
        filters = SearchFilters(states=("live", *include))
        result = archive.search(
            query,
            limit=limit,
            page=page,
            cleared_for=cleared_for,
            filters=filters,
            seconds=query_seconds,
        )
    if as_json:
        print_json([r.to_dict() for r in result.results])
        return
    if not result.results:
        # A page past the last is empty, so that a script paging until empty stops.
        past = f" on page {page}; {result.total} in all" if result.total else ""
        say(f"No photos match {query!r}{past}.")
        return
    click.echo(f"{'ID':<12}  {'DATE':<10}  {'CREDIT':<16}  {'RIGHTS':<15}  CAPTION")
    for r in result.results:
        rec = r.record
        caption = _terminal_highlight(r.caption_highlighted) if r.caption_highlighted else ""
        if r.state != "live":
            caption = f"[{r.state.upper()}] {caption}"
        click.echo(
            f"{rec.id:<12}  {cell((rec.date_created or '')[:10], 10):<10}  "
            f"{cell(rec.credit, 16):<16}  {r.verdict.status:<15}  {caption}"
        )
    first = (page - 1) * limit + 1
    say(f"{first}-{first + len(result.results) - 1} of {result.total}")


def _terminal_highlight(marked: str) -> str:
    # The caption's own text is made printable first, so that only the marks below can
    # become escape sequences (and then only on a terminal).
    text = "".join(
        "\x01" if p.startswith("<mark") else "\x02" if p == "</mark>" else _printable_text(p)
        for p in re.split(r"(<mark[^>]*>|</mark>)", marked)
    )
    text = excerpt(text, 90)
    if sys.stdout.isatty():
        return text.replace("\x01", "\033[1m").replace("\x02", "\033[0m")
    return text.replace("\x01", "").replace("\x02", "")


def _printable_text(html_text: str) -> str:
    import html

    return printable(re.sub(r"\s+", " ", html.unescape(html_text)))


COMMANDS = [search]
