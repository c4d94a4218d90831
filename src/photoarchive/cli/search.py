"""The search command: a readable table, or the records as JSON."""

from __future__ import annotations

import re
import sys
from datetime import datetime

import click

from photoarchive.cli.output import cell, excerpt, open_from_context, print_json, printable, say
from photoarchive.policy import USES
from photoarchive.rights import VERDICTS
from photoarchive.search import SearchFilters
from photoarchive.search.results import SORTS


@click.command()
@click.argument("query", required=False, default="")
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
    "--sort",
    type=click.Choice(SORTS),
    default=None,
    help="Best match first (relevance), newest taken first (date) or newest arrivals first "
    "(ingested). Default: relevance, or ingested without query words.",
)
@click.option(
    "--since",
    metavar="SPAN|DATE",
    default=None,
    help="Only photos that arrived since: 90m, 24h, 7d, 2w, or a date (2022-09-11, in the "
    "rights policy's time zone).",
)
@click.option("--agency", default=None, help="Only photos from this agency (e.g. Reuters).")
@click.option(
    "--from",
    "date_from",
    metavar="DATE",
    default=None,
    help="Only photos taken on or after this date.",
)
@click.option(
    "--to",
    "date_to",
    metavar="DATE",
    default=None,
    help="Only photos taken on or before this date.",
)
@click.option(
    "--verdict",
    type=click.Choice(VERDICTS),
    multiple=True,
    help="Only photos with this rights verdict now (repeat for several).",
)
@click.option(
    "--source-type",
    metavar="TYPE",
    default=None,
    help="Only photos of this digital source type: screen, ai, or an IPTC code such as "
    "digitalCapture.",
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
    sort: str | None,
    since: str | None,
    agency: str | None,
    date_from: str | None,
    date_to: str | None,
    verdict: tuple[str, ...],
    source_type: str | None,
    query_seconds: float | None,
) -> None:
    """Search captions, headlines, keywords, places, by-lines and credits.

    Words must all match, in any of their forms and spellings: "tanks" finds "tank",
    "jose" José, "kiev" Kyiv and Київ (through the archive's thesaurus.toml), "Харків"
    Харкова; "izuim~" finds near misses. Use quotes for phrases, OR and NOT, and fields:
    credit:, agency:, byline:, city:, country:, keywords:, source:, format:, date:. Dates
    take ranges such as date:[2022-09-01 to 2022-09-30]. Without QUERY, lists the photos
    the filters let through, newest arrivals first.

    A query holds at most 1,000 characters and 50 words, and its wildcards at most 2,000
    words of the index; a search running longer than --query-seconds stops with an error.
    A page past the last is empty.

    Example:

    \b
        photoarchive search "abandoned tanks river"
        photoarchive search "credit:reuters date:[2022-09-01 to 2022-09-30]" --json
        photoarchive search --since 24h --agency Reuters --sort date
    """
    from datetime import UTC, datetime

    from photoarchive.search.query import since_moment

    with open_from_context(ctx) as archive:
        last = _taken(date_to, "--to")
        filters = SearchFilters(
            agency=agency,
            date_from=start[0] if (start := _taken(date_from, "--from")) else None,
            date_to=last[1] if last else None,
            ingested_from=(
                since_moment(since, datetime.now(UTC), archive.policy.timezone)
                if since is not None
                else None
            ),
            source_type=source_type,
            states=("live", *include),
        )
        result = archive.search(
            query,
            limit=limit,
            page=page,
            cleared_for=cleared_for,
            filters=filters,
            verdicts=verdict or None,
            seconds=query_seconds,
            sort=sort or ("relevance" if query.strip() else "ingested"),
        )
    if as_json:
        print_json([r.to_dict() for r in result.results])
        return
    if not result.results:
        # A page past the last is empty, so that a script paging until empty stops.
        past = f" on page {page}; {result.total} in all" if result.total else ""
        say(f"No photos match {query!r}{past}." if query.strip() else f"No photos{past}.")
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


def _taken(typed: str | None, option: str) -> tuple[datetime, datetime] | None:
    """Return the first and last moment of a date typed for --from or --to."""
    from photoarchive.errors import QueryError
    from photoarchive.search.query import date_period

    if typed is None:
        return None
    period = date_period(typed.strip())
    if period is None:
        raise QueryError(f"{option} '{typed}' is not a date such as 2022-09-11")
    return period


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
