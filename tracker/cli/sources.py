"""`tracker sync`, `tracker add` and `tracker feeds …`: getting documents into the store."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from tracker.cli.context import Context, pass_context
from tracker.errors import ConfigError
from tracker.text import clean_text, json_text


@click.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Backfill from this date (UTC) instead of the saved cursor.")
@pass_context
def sync(obj: Context, sources: Sequence[str], since: datetime | None) -> None:
    """Fetch new and changed documents from SOURCE (default: every enabled source).

    Sources: lesswrong, alignmentforum, eaforum, arxiv, feeds. A source that fails stops with
    one line saying why and when to retry; the others go on (a broken feed does not stop the
    other feeds). Exit status 1 if any source failed.
    """
    from tracker.cli.output import run_syncs
    from tracker.sync.sources import selected_sources

    names = selected_sources(obj.settings, sources)
    if not names:
        raise ConfigError("No source is enabled; name one (`tracker sync lesswrong`) or enable "
                          "one in config.toml")
    moment = since.replace(tzinfo=UTC) if since else None
    reports = run_syncs(obj.engine, obj.settings, names, since=moment)
    if any(report.status != "ok" for report in reports):
        sys.exit(1)


@click.command()
@click.argument("ref", metavar="PAPER")
@click.option("--json", "as_json", is_flag=True, help="Print the stored document as JSON.")
@pass_context
def add(obj: Context, ref: str, as_json: bool) -> None:
    """Fetch one arXiv paper now: arxiv:ID, a bare id, or an arxiv.org URL.

    Forum posts that cite the paper link to it at once; so do those that cite it later.
    """
    from tracker import store
    from tracker.store.engine import session_scope
    from tracker.sync.sources import add_paper

    document, outcome = add_paper(obj.engine, obj.settings, ref)
    if as_json:
        with session_scope(obj.engine) as session:
            public = store.to_public(session=session, document=document)
        click.echo(json_text(public.model_dump(mode="json")))
        return
    click.echo(clean_text(f"{outcome}: [{document.id}] arxiv:{document.native_id} "
                          f"{document.title}"))


@click.group()
def feeds() -> None:
    """The blogs and newsletters `tracker sync feeds` reads (RSS / Atom)."""


@feeds.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; see README).")
@pass_context
def feeds_list(obj: Context, as_json: bool) -> None:
    """Every feed: name, URL, where it is configured, entries stored and its health."""
    from tracker.cli.output import feeds_json, print_feeds
    from tracker.sync.feeds import list_feeds

    infos = list_feeds(obj.engine, obj.settings)
    if as_json:
        click.echo(json_text(feeds_json(infos)))
    else:
        print_feeds(infos)


@feeds.command(name="add")
@click.argument("url")
@click.option("--name", help="Stable name (the entries' source); default from the URL.")
@click.option("--title", help="Display title; default the feed's own.")
@click.option("--author", help="Byline for entries that name no author.")
@pass_context
def feeds_add(obj: Context, url: str, name: str | None, title: str | None,
              author: str | None) -> None:
    """Subscribe to the feed at URL (kept in the database; `tracker sync feeds` reads it)."""
    from tracker.config import FeedConfig
    from tracker.sync.feeds import add_feeds

    config = FeedConfig(url=url.strip(), name=name, title=title, author=author)
    [(feed, added)] = add_feeds(obj.engine, obj.settings, [config])
    verb = "added" if added else "already listed as"
    click.echo(clean_text(f"{verb} {feed.name}: {feed.url}"))


@feeds.command(name="remove")
@click.argument("ref", metavar="NAME_OR_URL")
@pass_context
def feeds_remove(obj: Context, ref: str) -> None:
    """Unsubscribe from a feed added with `feeds add` or `import`; its entries stay stored."""
    from tracker.sync.feeds import remove_feed

    feed = remove_feed(obj.engine, obj.settings, ref)
    click.echo(clean_text(f"removed {feed.name}: {feed.url}"))


@feeds.command(name="import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def feeds_import(obj: Context, path: Path) -> None:
    """Subscribe to every feed an OPML file lists."""
    from tracker.ingest.opml import MAX_OPML_BYTES, parse_opml
    from tracker.sync.feeds import add_feeds

    with path.open("rb") as handle:
        data = handle.read(MAX_OPML_BYTES + 1)
    results = add_feeds(obj.engine, obj.settings, parse_opml(data, origin=str(path)))
    for feed, added in results:
        click.echo(clean_text(f"{'added' if added else 'already listed'} {feed.name}: {feed.url}"))
    fresh = sum(added for _, added in results)
    click.echo(f"{fresh} feeds added, {len(results) - fresh} already listed", err=True)


@feeds.command(name="export")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def feeds_export(obj: Context, path: Path | None) -> None:
    """Write every feed as OPML 2.0 to PATH (default: standard output)."""
    from tracker.ingest.opml import render_opml
    from tracker.models import utcnow
    from tracker.sync.feeds import list_feeds

    infos = list_feeds(obj.engine, obj.settings)
    configs = [info.feed.config().model_copy(update={"title": info.feed.title or info.state.title})
               for info in infos]
    text = render_opml(configs, now=utcnow())
    if path is None:
        click.echo(text, nl=False)
    else:
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(infos)} feeds to {path}", err=True)
