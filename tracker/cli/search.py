"""`tracker index`, `tracker search` and `tracker similar`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import click

from tracker.cli.context import Context, pass_context, single_blas_thread
from tracker.text import json_text


@click.command(name="index")
@click.option("--limit", type=click.IntRange(min=0),
              help="Embed at most N passages in this run (the rest on the next run).")
@click.option("--model", envvar="TRACKER_INDEX__MODEL",
              help="Embedding model (default index.model: all-MiniLM-L6-v2).")
@click.option("--static-tier/--no-static-tier", default=None,
              help="Also embed every passage with the static model first (index.static_tier).")
@pass_context
def index_command(obj: Context, limit: int | None, model: str | None,
                  static_tier: bool | None) -> None:
    """Split new and changed documents into passages and embed them for search.

    Only new or changed passages are embedded. Interrupted (Ctrl-C, a crash), it keeps what
    it saved; run it again to resume.
    """
    from tracker.cli.searchout import run_index

    settings = obj.settings
    changes: dict[str, object] = {"model": model} if model else {}
    if static_tier is not None:
        changes["static_tier"] = static_tier
    if changes:
        settings = settings.model_copy(
            update={"index": settings.index.model_copy(update=changes)})
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


def _filters(options: dict[str, Any], obj: Context) -> Any:
    from dataclasses import replace

    from tracker.index.base import SearchFilters

    def utc(moment: datetime | None) -> datetime | None:
        return moment.replace(tzinfo=UTC) if moment else None

    filters = SearchFilters(
        sources=tuple(options["sources"]), kinds=tuple(options["kinds"]),
        authors=tuple(options["authors"]), since=utc(options["since"]),
        until=utc(options["until"]), min_score=options["min_score"], tags=tuple(options["tags"]),
    )
    # The reader is looked up only when it matters: a tag filter matches their own tags too.
    return replace(filters, reader=obj.reader) if filters.tags else filters


@click.command()
@click.argument("words", nargs=-1, required=True, metavar="QUERY...")
@_filter_options
@pass_context
def search(obj: Context, /, words: Sequence[str], **options: Any) -> None:
    """Find posts, comments and papers by a vague description, a title or an author.

    Keyword (bm25) and meaning (embeddings) are combined; a misspelt author or part of a
    title still finds the document, and a year or forum in the query ("EA Forum, 2019")
    ranks matching documents first. Run `tracker index` after syncing.
    """
    single_blas_thread()
    from tracker.cli.searchout import print_results
    from tracker.search.results import results_json
    from tracker.search.searcher import open_searcher

    query = " ".join(words)
    filters = _filters(options, obj)
    # Counting a large store's passages for the coverage note takes a tenth of a second at
    # a million: done beside opening and searching the indexes (SQLite lets go of the GIL).
    note = None if options["as_json"] else _beside(obj)
    searcher = open_searcher(obj.engine, obj.settings)
    results = searcher.search(query, filters, limit=options["limit"])
    if note is None:
        data = results_json(query, results, searcher.catalog, filters)
        click.echo(json_text(data))
        return
    coverage = note.result()
    if not searcher.keyword.count():
        click.echo("nothing is indexed yet: run `tracker index`", err=True)
    elif not searcher.has_vectors:
        click.echo(f"keyword search only: no passage has a vector of {obj.settings.index.model} "
                   f"yet; run `tracker index`", err=True)
    elif coverage:
        click.echo(coverage, err=True)
    print_results(query, results, searcher.catalog)


def _beside(obj: Context) -> Future[str | None]:
    """The coverage note, being worked out in a thread of its own."""
    from tracker.cli.history import coverage_note
    from tracker.search.searcher import beside

    _ = obj.engine  # made in this thread, before the note's thread asks for it
    return beside(coverage_note, obj, name="tracker-coverage")


@click.command()
@click.argument("ref", metavar="ID")
@_filter_options
@pass_context
def similar(obj: Context, /, ref: str, **options: Any) -> None:
    """Documents most like ID (by the meaning of their passages).

    ID is a document id, a native id, source:native_id or a URL.
    """
    from tracker import store
    from tracker.errors import IndexBackendError
    from tracker.store.engine import session_scope

    single_blas_thread()
    from tracker.cli.searchout import print_results
    from tracker.search.results import results_json
    from tracker.search.searcher import open_searcher

    with session_scope(obj.engine) as session:
        document = store.get_document(session=session, ref=ref)
    assert document.id is not None
    searcher = open_searcher(obj.engine, obj.settings)
    if not searcher.has_vectors:
        raise IndexBackendError("No passage is embedded yet: run `tracker index` first")
    filters = _filters(options, obj)
    results = searcher.similar(document.id, filters, limit=options["limit"])
    label = f"similar to {document.title or document.native_id}"
    if options["as_json"]:
        data = results_json(label, results, searcher.catalog, filters)
        data["document"] = {"id": document.id, "source": document.source,
                            "native_id": document.native_id, "title": document.title}
        click.echo(json_text(data))
        return
    print_results("", results, searcher.catalog)
