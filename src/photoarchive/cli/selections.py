"""The desk's shared selections (`selection list|show|create|rename|delete|add|remove`)."""

from __future__ import annotations

import getpass

import click

from photoarchive.cli.output import cell, open_from_context, print_json, say


@click.group()
def selection() -> None:
    """Named selections (lightboxes) the desk shares: photos picked for a page or a
    planning meeting. Every change is in the audit log with who made it.

    A selection is a search target: selection:NAME (selection:"two words") in a query
    narrows it to the selection's photos, for search, rights check, export and
    contact-sheet.

    Example:

    \b
        photoarchive selection create front-page
        photoarchive selection add front-page 3f9a2c 8be01d
        photoarchive rights check selection:front-page
        photoarchive export selection:front-page --to ~/cms
    """


_BY = click.option("--by", default=None, help="Who makes the change (default: your login name).")


@selection.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the selections as JSON.")
@click.pass_context
def selection_list(ctx: click.Context, as_json: bool) -> None:
    """List the selections: name, photos, who made each and when it last changed.

    Example:

    \b
        photoarchive selection list --json
    """
    from photoarchive.selections import list_selections

    with open_from_context(ctx) as archive:
        found = list_selections(archive)
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    if not found:
        say("No selections: make one with photoarchive selection create NAME.")
        return
    click.echo(f"{'NAME':<32}  {'PHOTOS':>6}  {'CREATED BY':<16}  CHANGED")
    for s in found:
        click.echo(
            f"{cell(s.name, 32):<32}  {s.count:>6}  {cell(s.created_by, 16):<16}  {s.changed_at}"
        )


@selection.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the selection and its photos as JSON.")
@click.pass_context
def selection_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """List the photos of selection NAME in the order they were added, with where each
    stands (live, superseded, killed) and its rights verdict now.

    Example:

    \b
        photoarchive selection show front-page
        photoarchive selection show "front page" --json
    """
    from photoarchive.selections import get_selection, photos
    from photoarchive.states import state_fields, superseded_by

    with open_from_context(ctx) as archive:
        chosen = get_selection(archive, name)
        shas = photos(archive, chosen.name)
        stored = archive.catalog.get_many(shas)
        records = [stored[s].record for s in shas if s in stored]
        standing = archive.states(shas)
        judged = archive.verdicts(records)
    if as_json:
        print_json(
            {
                **chosen.to_dict(),
                "photos": [
                    {
                        **r.to_dict(),
                        **state_fields(standing[r.sha256].state, superseded_by(standing[r.sha256])),
                        "rights": v.to_dict(),
                    }
                    for r, v in judged
                ],
            }
        )
        return
    say(f"{chosen.name}: {chosen.count} photos, made by {chosen.created_by} {chosen.created_at}")
    if not judged:
        return
    click.echo(f"{'ID':<12}  {'STATE':<10}  {'CREDIT':<16}  {'RIGHTS':<15}  CAPTION")
    for r, v in judged:
        click.echo(
            f"{r.id:<12}  {standing[r.sha256].state:<10}  {cell(r.credit, 16):<16}  "
            f"{v.status:<15}  {cell(r.caption, 60)}"
        )


@selection.command("create")
@click.argument("name")
@_BY
@click.pass_context
def selection_create(ctx: click.Context, name: str, by: str | None) -> None:
    """Make an empty selection NAME: 1 to 64 letters, digits, spaces and . _ -, starting
    with a letter or digit; names differing only in case are the same name.

    Example:

    \b
        photoarchive selection create "front page" --by jsmith
    """
    from photoarchive.selections import create

    with open_from_context(ctx, write=True) as archive:
        made = create(archive, name, by or getpass.getuser())
    say(f"Made the selection {made.name}.")


@selection.command("rename")
@click.argument("old")
@click.argument("new")
@_BY
@click.pass_context
def selection_rename(ctx: click.Context, old: str, new: str, by: str | None) -> None:
    """Give selection OLD the name NEW.

    Example:

    \b
        photoarchive selection rename front-page "front page friday"
    """
    from photoarchive.selections import rename

    with open_from_context(ctx, write=True) as archive:
        renamed = rename(archive, old, new, by or getpass.getuser())
    say(f"Renamed {old} to {renamed.name}.")


@selection.command("delete")
@click.argument("name")
@_BY
@click.pass_context
def selection_delete(ctx: click.Context, name: str, by: str | None) -> None:
    """Delete selection NAME (its photos stay in the archive; the audit log keeps which
    they were).

    Example:

    \b
        photoarchive selection delete front-page
    """
    from photoarchive.selections import delete

    with open_from_context(ctx, write=True) as archive:
        held = delete(archive, name, by or getpass.getuser())
    say(f"Deleted the selection {name} ({held} photos).")


@selection.command("add")
@click.argument("name")
@click.argument("ids", nargs=-1, required=True)
@_BY
@click.pass_context
def selection_add(ctx: click.Context, name: str, ids: tuple[str, ...], by: str | None) -> None:
    """Add photos (ids or unique id prefixes) to selection NAME, after those it holds; a
    photo it holds already stays where it is.

    Example:

    \b
        photoarchive selection add front-page 3f9a2c 8be01d
    """
    from photoarchive.selections import add

    with open_from_context(ctx, write=True) as archive:
        added = add(archive, name, ids, by or getpass.getuser())
    kept = len(set(ids)) - added
    more = f" ({kept} held already)" if kept > 0 else ""
    say(f"Added {added} photos to {name}{more}.")


@selection.command("remove")
@click.argument("name")
@click.argument("ids", nargs=-1, required=True)
@_BY
@click.pass_context
def selection_remove(ctx: click.Context, name: str, ids: tuple[str, ...], by: str | None) -> None:
    """Take photos (ids or unique id prefixes) out of selection NAME.

    Example:

    \b
        photoarchive selection remove front-page 3f9a2c
    """
    from photoarchive.selections import remove

    with open_from_context(ctx, write=True) as archive:
        gone = remove(archive, name, ids, by or getpass.getuser())
    say(f"Took {gone} photos out of {name}.")


COMMANDS = [selection]
