"""`tracker tag add|remove|list`: a reader's own tags on documents (the forum's are shared)."""

from __future__ import annotations

from collections.abc import Sequence

import click

from tracker.cli.context import Context
from tracker.text import clean_text, json_text


@click.group()
def tag() -> None:
    """Your own tags on documents: only you see them (`tracker search --tag`, `tracker show`,
    digests); the forum's tags are everyone's."""


@tag.command(name="add")
@click.argument("ref", metavar="ID")
@click.argument("names", nargs=-1, required=True, metavar="TAG...")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {document_id, added, tags}.")
@click.pass_obj
def tag_add(obj: Context, ref: str, names: Sequence[str], as_json: bool) -> None:
    """Tag document ID (id, native id, source:id or URL) with your own TAGs."""
    _change(obj, ref, names, as_json, add=True)


@tag.command(name="remove")
@click.argument("ref", metavar="ID")
@click.argument("names", nargs=-1, required=True, metavar="TAG...")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: {document_id, removed, tags}.")
@click.pass_obj
def tag_remove(obj: Context, ref: str, names: Sequence[str], as_json: bool) -> None:
    """Take your own TAGs off document ID (a forum tag stays)."""
    _change(obj, ref, names, as_json, add=False)


def _change(obj: Context, ref: str, names: Sequence[str], as_json: bool, *, add: bool) -> None:
    from tracker import store
    from tracker.store.engine import session_scope

    reader = obj.reader
    with session_scope(obj.engine) as session:
        document = store.get_document(session=session, ref=ref)
        assert document.id is not None
        change = store.add_tags if add else store.remove_tags
        changed = change(session=session, reader=reader, document_id=document.id, names=names)
        tags = store.document_tags(session=session, document_id=document.id, reader=reader)
    word = "added" if add else "removed"
    if as_json:
        click.echo(json_text({"document_id": document.id, word: changed, "tags": tags}))
        return
    title = clean_text(document.title or document.native_id)
    click.echo(f"[{document.id}] {title}: {word} {', '.join(map(clean_text, changed)) or 'nothing'}"
               f"; tags: {', '.join(map(clean_text, tags)) or 'none'}")


@tag.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: [{name, documents}].")
@click.pass_obj
def tag_list(obj: Context, as_json: bool) -> None:
    """Your own tags with how many documents carry each."""
    from tracker import store
    from tracker.store.engine import session_scope

    reader = obj.reader
    with session_scope(obj.engine) as session:
        rows = store.reader_tags(session=session, reader=reader)
    if as_json:
        click.echo(json_text([{"name": name, "documents": count} for name, count in rows]))
        return
    for name, count in rows:
        click.echo(f"{clean_text(name)}\t{count}")
