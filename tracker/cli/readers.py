"""`tracker reader add|list`: the readers sharing one store (see README, "Several readers")."""

from __future__ import annotations

import click

from tracker.cli.context import Context
from tracker.text import json_text


@click.group()
def reader() -> None:
    """The readers of this store: each has their own claims, labels, follows and digests."""


@reader.command(name="add")
@click.argument("name")
@click.pass_obj
def reader_add(obj: Context, name: str) -> None:
    """Register a reader; act as them with `tracker --user NAME …` or TRACKER_USER=NAME."""
    from tracker import store
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        _row, added = store.add_reader(session=session, name=name)
    click.echo(f"{'added' if added else 'already registered'}: reader {name}")


@reader.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: [{name, created_at}].")
@click.pass_obj
def reader_list(obj: Context, as_json: bool) -> None:
    """The registered readers, by name."""
    from tracker import store
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        rows = [(r.name, r.created_at) for r in store.list_readers(session=session)]
    if as_json:
        click.echo(json_text([{"name": name, "created_at": at.isoformat() if at else None}
                              for name, at in rows]))
        return
    for name, _at in rows:
        click.echo(name)


@reader.command(name="token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Forget the reader's token instead.")
@click.pass_obj
def reader_token(obj: Context, name: str, revoke: bool) -> None:
    """Issue an API token for a reader (replacing their old one); `tracker api` then acts as
    them for `Authorization: Bearer TOKEN`. Shown once: only its hash is stored."""
    from tracker import store
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        if revoke:
            had = store.revoke_token(session=session, name=name)
            click.echo(f"revoked: reader {name}'s token" if had
                       else f"reader {name} had no token")
            return
        token = store.issue_token(session=session, name=name)
    click.echo(token)
    click.echo(f"The API token of reader {name}: send it as `Authorization: Bearer …`. It is "
               f"shown only now; `tracker reader token {name}` issues a new one.", err=True)
