"""`tracker status`, `show`, `links` and `paths`: reading the store."""

from __future__ import annotations

from typing import Any

import click

from tracker import paths
from tracker.cli.context import Context, pass_context
from tracker.config import source_names
from tracker.text import json_text


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; see README).")
@pass_context
def status(obj: Context, as_json: bool) -> None:
    """Per-source counts, the last sync and the last error."""
    from tracker import store
    from tracker.cli.history import history_json, print_history
    from tracker.cli.output import print_status, status_json
    from tracker.cli.service import print_schedule, scheduled_json
    from tracker.store.engine import session_scope
    from tracker.sync.feeds import list_feeds

    with session_scope(obj.engine) as session:
        rows = store.source_status(session=session, sources=source_names())
        total = store.count_documents(session=session)
    feeds = list_feeds(obj.engine, obj.settings)
    if as_json:
        data = status_json(rows, total, obj.settings, feeds)
        data["schedule"] = scheduled_json(obj.engine)
        data.update(history_json(obj))
        click.echo(json_text(data))
    else:
        print_status(rows, total, obj.settings, feeds)
        print_schedule(obj.engine)
        print_history(obj)


@click.command()
@click.argument("ref", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; see README).")
@click.option("--depth", default=3, show_default=True, help="Comment nesting shown before folding.")
@pass_context
def show(obj: Context, ref: str, as_json: bool, depth: int) -> None:
    """Print a post, comment or paper as readable text with its metadata.

    ID is a document id, a native id (uMQ3cqWDPHhjtiesc), source:native_id, or a URL.
    """
    from tracker import store
    from tracker.cli.output import render_document
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        document = store.get_document(session=session, ref=ref)
        if as_json:
            from tracker.api.schema import show_json

            click.echo(json_text(show_json(session, document, obj.reader)))
            return
        public = store.to_public(session=session, document=document, reader=obj.reader)
        thread = store.get_thread(session=session, post=document) if document.kind == "post" else []
        parent = None
        if document.kind == "comment" and document.post_id:
            parent = _find(session, f"{document.source}:{document.post_id}")
        click.echo(render_document(session, public, thread, parent, depth=depth))
        if obj.settings.digest.implicit_interests and document.id is not None:
            from tracker.service.interests import record_reading

            record_reading(session=session, document_id=document.id,  # reading history
                           reader=obj.reader)


def _find(session: Any, ref: str) -> Any:
    from tracker import store
    from tracker.errors import NotFoundError

    try:
        return store.get_document(session=session, ref=ref)
    except NotFoundError:
        return None


@click.command()
@click.argument("ref", metavar="ID")
@click.option("--cited-by", is_flag=True, help="List what cites ID instead of what ID cites.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; see README).")
@pass_context
def links(obj: Context, ref: str, cited_by: bool, as_json: bool) -> None:
    """List what a document cites (or, with --cited-by, what cites it)."""
    from tracker import store
    from tracker.api.schema import links_json
    from tracker.cli.output import print_links
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        document = store.get_document(session=session, ref=ref)
        assert document.id is not None
        rows = (store.incoming_links if cited_by else store.outgoing_links)(
            session=session, document_id=document.id
        )
        if as_json:
            click.echo(json_text(links_json(document, rows, cited_by)))
        else:
            print_links(document, rows, cited_by)


@click.command(name="paths")
@pass_context
def show_paths(obj: Context) -> None:
    """Where tracker keeps its data and configuration."""
    from tracker.store.engine import redact_url

    click.echo(f"data:     {paths.data_dir()}")
    click.echo(f"config:   {paths.config_file()}")
    click.echo(f"database: {redact_url(obj.settings.sqlalchemy_url)}")
