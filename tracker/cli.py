"""The `tracker` command line. Heavy imports happen inside the commands that need them."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from tracker import __version__, claimcli, paths, servicecli
from tracker.config import Settings, load_settings, source_names
from tracker.errors import ConfigError, TrackerError


class Context:
    """Settings and the database engine, created on first use."""

    @cached_property
    def settings(self) -> Settings:
        return load_settings()

    @cached_property
    def engine(self) -> Engine:
        from tracker.db import make_engine

        return make_engine(self.settings.sqlalchemy_url)


class TrackerGroup(click.Group):
    """Turns expected errors into one line on stderr: exit 1, or 2 for configuration."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as e:
            raise click.UsageError(e.msg, ctx) from e
        except TrackerError as e:
            raise click.ClickException(e.msg) from e


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group(cls=TrackerGroup)
@click.version_option(__version__, prog_name="tracker")
@click.option("-v", "--verbose", is_flag=True, help="Log requests, retries and batches.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Track AI-alignment posts, comments and papers: sync, search, read, tag."""
    ctx.obj = Context()
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # httpx logs every request at INFO; the warnings that matter are our own.
        logging.getLogger("httpx").setLevel(logging.WARNING)


# `tracker claim …` and `tracker export claims` live in claimcli.py (it imports only click here).
cli.add_command(claimcli.claim)
cli.add_command(claimcli.export)
for _command in (servicecli.follow, servicecli.unfollow, servicecli.interests,
                 servicecli.digest, servicecli.serve):
    cli.add_command(_command)


@cli.command()
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
    from tracker.jobs import selected_sources
    from tracker.reporting import run_syncs

    names = selected_sources(obj.settings, sources)
    if not names:
        raise ConfigError("No source is enabled; name one (`tracker sync lesswrong`) or enable "
                          "one in config.toml")
    moment = since.replace(tzinfo=UTC) if since else None
    reports = run_syncs(obj.engine, obj.settings, names, since=moment)
    if any(report.status != "ok" for report in reports):
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; see README).")
@pass_context
def status(obj: Context, as_json: bool) -> None:
    """Per-source counts, the last sync and the last error."""
    from tracker import store
    from tracker.db import session_scope
    from tracker.jobs import list_feeds
    from tracker.reporting import print_status, status_json
    from tracker.servicecli import print_schedule, scheduled_json

    with session_scope(obj.engine) as session:
        rows = store.source_status(session=session, sources=source_names())
        total = store.count_documents(session=session)
    feeds = list_feeds(obj.engine, obj.settings)
    if as_json:
        data = status_json(rows, total, obj.settings, feeds)
        data["schedule"] = scheduled_json(obj.engine)
        click.echo(json.dumps(data, indent=2))
    else:
        print_status(rows, total, obj.settings, feeds)
        print_schedule(obj.engine)


@cli.command()
@click.argument("ref", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; see README).")
@click.option("--depth", default=3, show_default=True, help="Comment nesting shown before folding.")
@pass_context
def show(obj: Context, ref: str, as_json: bool, depth: int) -> None:
    """Print a post, comment or paper as readable text with its metadata.

    ID is a document id, a native id (uMQ3cqWDPHhjtiesc), source:native_id, or a URL.
    """
    from tracker import store
    from tracker.db import session_scope
    from tracker.reporting import render_document

    with session_scope(obj.engine) as session:
        document = store.get_document(session=session, ref=ref)
        public = store.to_public(session=session, document=document)
        thread = store.get_thread(session=session, post=document) if document.kind == "post" else []
        parent = None
        if document.kind == "comment" and document.post_id:
            parent = _find(session, f"{document.source}:{document.post_id}")
        if as_json:
            data = public.model_dump(mode="json")
            data["comments"] = [
                {"id": c.id, "native_id": c.native_id, "parent_id": c.parent_id,
                 "deleted": c.deleted} for c in thread
            ]
            assert document.id is not None
            data["same_work"] = [
                {"id": d.id, "source": d.source, "native_id": d.native_id, "kind": d.kind,
                 "url": d.url, "title": d.title, "reason": reason}
                for d, reason in store.same_work(session=session, document_id=document.id)
            ]
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return
        click.echo(render_document(session, public, thread, parent, depth=depth))
        if obj.settings.digest.implicit_interests and document.id is not None:
            from tracker.interests import record_reading

            record_reading(session=session, document_id=document.id)  # reading history


def _find(session: Any, ref: str) -> Any:
    from tracker import store
    from tracker.errors import NotFoundError

    try:
        return store.get_document(session=session, ref=ref)
    except NotFoundError:
        return None


@cli.command()
@click.argument("ref", metavar="ID")
@click.option("--cited-by", is_flag=True, help="List what cites ID instead of what ID cites.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; see README).")
@pass_context
def links(obj: Context, ref: str, cited_by: bool, as_json: bool) -> None:
    """List what a document cites (or, with --cited-by, what cites it)."""
    from tracker import store
    from tracker.db import session_scope
    from tracker.reporting import links_json, print_links

    with session_scope(obj.engine) as session:
        document = store.get_document(session=session, ref=ref)
        assert document.id is not None
        rows = (store.incoming_links if cited_by else store.outgoing_links)(
            session=session, document_id=document.id
        )
        if as_json:
            click.echo(json.dumps(links_json(document, rows, cited_by), indent=2,
                                  ensure_ascii=False))
        else:
            print_links(document, rows, cited_by)


@cli.command(name="paths")
@pass_context
def show_paths(obj: Context) -> None:
    """Where tracker keeps its data and configuration."""
    from tracker.db import _redact

    click.echo(f"data:     {paths.data_dir()}")
    click.echo(f"config:   {paths.config_file()}")
    click.echo(f"database: {_redact(obj.settings.sqlalchemy_url)}")


@cli.command()
@click.argument("ref", metavar="PAPER")
@click.option("--json", "as_json", is_flag=True, help="Print the stored document as JSON.")
@pass_context
def add(obj: Context, ref: str, as_json: bool) -> None:
    """Fetch one arXiv paper now: arxiv:ID, a bare id, or an arxiv.org URL.

    Forum posts that cite the paper link to it at once; so do those that cite it later.
    """
    from tracker import store
    from tracker.db import session_scope
    from tracker.jobs import add_paper

    document, outcome = add_paper(obj.engine, obj.settings, ref)
    if as_json:
        with session_scope(obj.engine) as session:
            public = store.to_public(session=session, document=document)
        click.echo(json.dumps(public.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    from tracker.text import clean_text

    click.echo(clean_text(f"{outcome}: [{document.id}] arxiv:{document.native_id} "
                          f"{document.title}"))


@cli.group()
def feeds() -> None:
    """The blogs and newsletters `tracker sync feeds` reads (RSS / Atom)."""


@feeds.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; see README).")
@pass_context
def feeds_list(obj: Context, as_json: bool) -> None:
    """Every feed: name, URL, where it is configured, entries stored and its health."""
    from tracker.jobs import list_feeds
    from tracker.reporting import feeds_json, print_feeds

    infos = list_feeds(obj.engine, obj.settings)
    if as_json:
        click.echo(json.dumps(feeds_json(infos), indent=2, ensure_ascii=False))
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
    from tracker.jobs import add_feeds

    config = FeedConfig(url=url.strip(), name=name, title=title, author=author)
    [(feed, added)] = add_feeds(obj.engine, obj.settings, [config])
    verb = "added" if added else "already listed as"
    click.echo(f"{verb} {feed.name}: {feed.url}")


@feeds.command(name="remove")
@click.argument("ref", metavar="NAME_OR_URL")
@pass_context
def feeds_remove(obj: Context, ref: str) -> None:
    """Unsubscribe from a feed added with `feeds add` or `import`; its entries stay stored."""
    from tracker.jobs import remove_feed

    feed = remove_feed(obj.engine, obj.settings, ref)
    click.echo(f"removed {feed.name}: {feed.url}")


@feeds.command(name="import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def feeds_import(obj: Context, path: Path) -> None:
    """Subscribe to every feed an OPML file lists."""
    from tracker.ingest.opml import MAX_OPML_BYTES, parse_opml
    from tracker.jobs import add_feeds

    with path.open("rb") as handle:
        data = handle.read(MAX_OPML_BYTES + 1)
    results = add_feeds(obj.engine, obj.settings, parse_opml(data, origin=str(path)))
    for feed, added in results:
        click.echo(f"{'added' if added else 'already listed'} {feed.name}: {feed.url}")
    fresh = sum(added for _, added in results)
    click.echo(f"{fresh} feeds added, {len(results) - fresh} already listed", err=True)


@feeds.command(name="export")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def feeds_export(obj: Context, path: Path | None) -> None:
    """Write every feed as OPML 2.0 to PATH (default: standard output)."""
    from tracker.ingest.opml import render_opml
    from tracker.jobs import list_feeds
    from tracker.models import utcnow

    infos = list_feeds(obj.engine, obj.settings)
    configs = [info.feed.config().model_copy(update={"title": info.feed.title or info.state.title})
               for info in infos]
    text = render_opml(configs, now=utcnow())
    if path is None:
        click.echo(text, nl=False)
    else:
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(infos)} feeds to {path}", err=True)


@cli.command(name="index")
@click.option("--limit", type=click.IntRange(min=0),
              help="Embed at most N passages in this run (the rest on the next run).")
@click.option("--model", envvar="TRACKER_INDEX__MODEL",
              help="Embedding model (default index.model: all-MiniLM-L6-v2).")
@pass_context
def index_command(obj: Context, limit: int | None, model: str | None) -> None:
    """Split new and changed documents into passages and embed them for search.

    Only new or changed passages are embedded. Interrupted (Ctrl-C, a crash), it keeps what
    it saved; run it again to resume.
    """
    from tracker.search import run_index

    settings = obj.settings
    if model:
        settings = settings.model_copy(
            update={"index": settings.index.model_copy(update={"model": model})})
    try:
        run_index(obj.engine, settings, limit=limit)
    except KeyboardInterrupt:
        click.echo("index: interrupted; what was saved stays, `tracker index` resumes", err=True)
        sys.exit(130)


_DATES = click.DateTime(["%Y-%m-%d", "%Y-%m", "%Y"])


def _filter_options(command: Any) -> Any:
    """The filters `search` and `similar` share."""
    options = [
        click.option("--source", "sources", multiple=True,
                     help="lesswrong, alignmentforum, eaforum, arxiv or a feed name (repeatable)."),
        click.option("--kind", "kinds", multiple=True,
                     type=click.Choice(["post", "comment", "paper", "entry"]),
                     help="Document kind (repeatable)."),
        click.option("--author", "authors", multiple=True,
                     help="Author name or forum slug, any part of it (repeatable)."),
        click.option("--since", type=_DATES, help="Posted on or after (YYYY[-MM[-DD]])."),
        click.option("--until", type=_DATES, help="Posted before (YYYY[-MM[-DD]])."),
        click.option("--min-score", type=float, help="At least this much karma."),
        click.option("--tag", "tags", multiple=True, help="Tag name (repeatable)."),
        click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000),
                     help="How many documents to show."),
        click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; see README)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _filters(options: dict[str, Any]) -> Any:
    from tracker.index.base import SearchFilters

    def utc(moment: datetime | None) -> datetime | None:
        return moment.replace(tzinfo=UTC) if moment else None

    return SearchFilters(
        sources=tuple(options["sources"]), kinds=tuple(options["kinds"]),
        authors=tuple(options["authors"]), since=utc(options["since"]),
        until=utc(options["until"]), min_score=options["min_score"], tags=tuple(options["tags"]),
    )


def _single_blas_thread() -> None:
    """One BLAS thread for query work: a query is ~20 tokens, and handing such small matrix
    products to a second thread made embedding one 4x slower here (65 ms against 16 ms).
    Effective only if numpy is not imported yet, as in a fresh `tracker search`."""
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@cli.command()
@click.argument("words", nargs=-1, required=True, metavar="QUERY...")
@_filter_options
@pass_context
def search(obj: Context, /, words: Sequence[str], **options: Any) -> None:
    """Find posts, comments and papers by a vague description, a title or an author.

    Keyword (bm25) and meaning (embeddings) are combined; a misspelt author or part of a
    title still finds the document, and a year or forum in the query ("EA Forum, 2019")
    ranks matching documents first. Run `tracker index` after syncing.
    """
    _single_blas_thread()
    from tracker.jobs import open_searcher
    from tracker.search import print_results, results_json

    query = " ".join(words)
    filters = _filters(options)
    searcher = open_searcher(obj.engine, obj.settings)
    results = searcher.search(query, filters, limit=options["limit"])
    if options["as_json"]:
        data = results_json(query, results, searcher.catalog, filters)
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if not searcher.keyword.count():
        click.echo("nothing is indexed yet: run `tracker index`", err=True)
    elif not searcher.has_vectors:
        click.echo(f"keyword search only: no passage has a vector of {obj.settings.index.model} "
                   f"yet; run `tracker index`", err=True)
    print_results(query, results, searcher.catalog)


@cli.command()
@click.argument("ref", metavar="ID")
@_filter_options
@pass_context
def similar(obj: Context, /, ref: str, **options: Any) -> None:
    """Documents most like ID (by the meaning of their passages).

    ID is a document id, a native id, source:native_id or a URL.
    """
    from tracker import store
    from tracker.db import session_scope
    from tracker.errors import IndexBackendError

    _single_blas_thread()
    from tracker.jobs import open_searcher
    from tracker.search import print_results, results_json

    with session_scope(obj.engine) as session:
        document = store.get_document(session=session, ref=ref)
    assert document.id is not None
    searcher = open_searcher(obj.engine, obj.settings)
    if not searcher.has_vectors:
        raise IndexBackendError("No passage is embedded yet: run `tracker index` first")
    filters = _filters(options)
    results = searcher.similar(document.id, filters, limit=options["limit"])
    label = f"similar to {document.title or document.native_id}"
    if options["as_json"]:
        data = results_json(label, results, searcher.catalog, filters)
        data["document"] = {"id": document.id, "source": document.source,
                            "native_id": document.native_id, "title": document.title}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    print_results("", results, searcher.catalog)


@cli.command()
@click.option("--screen", type=click.Choice(["search", "claims", "status", "digests"]),
              default="search", show_default=True, help="The screen to open first.")
@click.option("--index/--no-index", "index_on_start", default=True, show_default=True,
              help="Split and embed new documents in the background as the UI opens.")
@pass_context
def tui(obj: Context, screen: str, index_on_start: bool) -> None:
    """Open the terminal UI: search as you type, read with citations, tag claims.

    F1 lists the keys of each screen; ctrl+p opens the command palette; ctrl+q quits (a
    running sync or index run stops at its next checkpoint and resumes next time).
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise TrackerError("`tracker tui` needs a terminal (stdin and stdout); use "
                           "`tracker search`, `tracker show` and `tracker claim` in scripts")
    _single_blas_thread()
    from tracker.workbench import make_app

    make_app(obj.engine, obj.settings, start=screen, index_on_start=index_on_start).run()
