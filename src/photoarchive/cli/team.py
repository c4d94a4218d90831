"""The desk's accounts (`users`) and the audit log (`audit`)."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime

import click

from photoarchive.accounts import ROLES
from photoarchive.cli.output import open_from_context, print_json, say


@click.group()
def users() -> None:
    """Accounts of the browser desk: viewers search and look; editors caption, kill,
    select and export; admins also manage accounts and the rights policy.

    An archive with no accounts is served read-only to this machine only (127.0.0.1);
    with accounts everyone signs in.

    Example:

    \b
        photoarchive users add anna --role admin      # asks for the password twice
        photoarchive users list
    """


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = click.prompt("Password", hide_input=True, err=True)
    second = click.prompt("Password again", hide_input=True, err=True)
    if first != second:
        raise click.UsageError("the two passwords differ")
    return str(first)


_BY = click.option("--by", default=None, help="Who makes the change (default: your login name).")
_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin (for scripts) instead of asking.",
)


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@_STDIN
@_BY
@click.pass_context
def users_add(
    ctx: click.Context, name: str, role: str, password_stdin: bool, by: str | None
) -> None:
    """Create an account NAME with a role and a password (10 characters or more).

    Example:

    \b
        photoarchive users add anna --role admin
        echo "$PASSWORD" | photoarchive users add night --role editor --password-stdin
    """
    from photoarchive.accounts import add_account

    password = _password(password_stdin)
    with open_from_context(ctx, write=True) as archive:
        account = add_account(archive, name, role, password, by or getpass.getuser())
    say(f"Added {account.name} ({account.role}).")


@users.command("passwd")
@click.argument("name")
@_STDIN
@_BY
@click.pass_context
def users_passwd(ctx: click.Context, name: str, password_stdin: bool, by: str | None) -> None:
    """Give account NAME a new password (this also lifts a lock-out).

    Example:

    \b
        photoarchive users passwd anna
    """
    from photoarchive.accounts import set_password

    password = _password(password_stdin)
    with open_from_context(ctx, write=True) as archive:
        set_password(archive, name, password, by or getpass.getuser())
    say(f"New password set for {name}.")


@users.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@_BY
@click.pass_context
def users_role(ctx: click.Context, name: str, role: str, by: str | None) -> None:
    """Change the role of account NAME.

    Example:

    \b
        photoarchive users role bob editor
    """
    from photoarchive.accounts import set_role

    with open_from_context(ctx, write=True) as archive:
        set_role(archive, name, role, by or getpass.getuser())
    say(f"{name} is now {role}.")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON.")
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """List the accounts with their roles.

    Example:

    \b
        photoarchive users list --json
    """
    from photoarchive.accounts import list_accounts

    with open_from_context(ctx) as archive:
        accounts = list_accounts(archive)
    if as_json:
        print_json([a.to_dict() for a in accounts])
        return
    if not accounts:
        say("No accounts: the desk is served read-only to this machine only.")
        return
    click.echo(f"{'NAME':<24}  {'ROLE':<7}  {'CREATED':<25}  LOCKED UNTIL")
    for a in accounts:
        click.echo(f"{a.name:<24}  {a.role:<7}  {a.created_at:<25}  {a.locked_until or ''}")


@users.command("remove")
@click.argument("name")
@_BY
@click.pass_context
def users_remove(ctx: click.Context, name: str, by: str | None) -> None:
    """Remove account NAME (the last admin stays while other accounts remain).

    Example:

    \b
        photoarchive users remove bob
    """
    from photoarchive.accounts import remove_account

    with open_from_context(ctx, write=True) as archive:
        remove_account(archive, name, by or getpass.getuser())
    say(f"Removed {name}.")


@click.command()
@click.option(
    "--since",
    metavar="SPAN|DATE",
    default=None,
    help="Only changes made since: 90m, 24h, 7d, or a date (default: all).",
)
@click.option("--by", default=None, help="Only changes made by this person.")
@click.option("--limit", "-n", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@click.pass_context
def audit(ctx: click.Context, since: str | None, by: str | None, limit: int, as_json: bool) -> None:
    """List changes to the archive, newest first: who, when, what, the old and new value
    (caption edits, kills and unkills, accounts, selections), from the browser desk and
    the command line alike.

    Example:

    \b
        photoarchive audit --since 24h
        photoarchive audit --by anna --json
    """
    from photoarchive.audit import audit_log
    from photoarchive.search.query import since_moment

    with open_from_context(ctx) as archive:
        moment = since_moment(since, datetime.now(UTC), archive.policy.timezone) if since else None
        entries = audit_log(archive, since=moment, by=by, limit=limit)
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    if not entries:
        say("No changes.")
        return
    click.echo(f"{'WHEN':<25}  {'WHO':<16}  {'WHAT':<16}  {'TARGET':<14}  CHANGE")
    for e in entries:
        change = e.field or ""
        if e.old is not None or e.new is not None:
            change = f"{change}: {_short(e.old)} -> {_short(e.new)}"
        click.echo(
            f"{e.at:<25}  {e.by[:16]:<16}  {e.action:<16}  {(e.target or '')[:14]:<14}  {change}"
        )


def _short(value: object) -> str:
    from photoarchive.cli.output import excerpt, printable

    if value is None:
        return "-"
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return excerpt(printable(text), 50)


COMMANDS = [users, audit]
