"""Jobs that wire sources to the store; the CLI and the scheduler call these."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tracker import store
from tracker.config import FORUM_SOURCES, FeedConfig, Settings, source_names
from tracker.db import session_scope
from tracker.errors import ConfigError, SourceError
from tracker.ingest.base import Batch, Source
from tracker.ingest.http import make_client

if TYPE_CHECKING:
    import httpx

    from tracker.index.base import Embedder, VectorIndex
    from tracker.index.hybrid import HybridSearcher
    from tracker.ingest.feedlist import Feed, FeedState
    from tracker.models import Document

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """How one source's sync went."""

    source: str
    counts: store.UpsertCounts = field(default_factory=store.UpsertCounts)
    failed: int = 0
    status: str = "running"
    error: str | None = None
    retry_after: datetime | None = None


BatchHook = Callable[[str, Batch, store.UpsertCounts], None]


def build_source(name: str, settings: Settings) -> Source:
    """The `Source` for a configured source name."""
    if name in FORUM_SOURCES:
        from tracker.ingest.forum import ForumSource

        return ForumSource(name, settings.sources.forum(name))
    if name == "arxiv":
        from tracker.ingest.arxiv import ArxivSource

        return ArxivSource(settings.sources.arxiv)
    if name == "feeds":
        from tracker.ingest.feeds import FeedsSource

        return FeedsSource(settings.sources.feeds)
    raise ConfigError(f"Unknown source '{name}'. Known sources: {', '.join(source_names())}")


def selected_sources(settings: Settings, names: Sequence[str]) -> list[str]:
    """The sources to sync: those named, or every enabled one."""
    known = source_names()
    for name in names:
        if name not in known:
            raise ConfigError(f"Unknown source '{name}'. Known sources: {', '.join(known)}")
    if names:
        return list(dict.fromkeys(names))
    return [name for name in known if settings.source(name).enabled]


def sync_source(
    engine: Engine,
    settings: Settings,
    name: str,
    *,
    since: datetime | None = None,
    on_batch: BatchHook | None = None,
) -> SyncReport:
    """Sync one source; a source failure is reported, not raised, so others can go on."""
    source = build_source(name, settings)
    report = SyncReport(source=name)
    with session_scope(engine) as session:
        run_id = store.start_run(session=session, source=name).id
        cursor = store.get_cursor(session=session, source=name)
    assert run_id is not None
    client = source_client(settings, name)
    try:
        for batch in source.fetch(client, cursor, since=since):
            counts = _commit_batch(engine, name, batch)
            report.counts.add(counts)
            report.failed += batch.failed
            if on_batch is not None:
                on_batch(name, batch, counts)
        report.status = "ok"
    except SourceError as e:
        report.status, report.error = "failed", e.msg
        report.retry_after = getattr(e, "retry_at", None)
        log.error("%s", e.msg)
    except BaseException:
        report.status, report.error = "interrupted", "the sync was interrupted; run it again"
        raise
    finally:
        client.close()
        with session_scope(engine) as session:
            store.finish_run(
                session=session, run_id=run_id, status=report.status, counts=report.counts,
                failed=report.failed, error=report.error, retry_after=report.retry_after,
            )
    return report


def _commit_batch(engine: Engine, name: str, batch: Batch) -> store.UpsertCounts:
    """Write a batch's documents, deletions and cursor in one transaction."""
    with session_scope(engine) as session:
        counts = store.upsert_documents(session=session, documents=batch.documents)
        for window in batch.windows:
            counts.deleted += store.mark_missing_deleted(
                session=session, source=window.source, kind=window.kind, start=window.start,
                end=window.end, seen=window.seen, af_only=window.af_only,
            )
        if batch.cursor:
            store.save_cursor(session=session, source=name, values=batch.cursor)
    return counts


# --- clients, one paper on demand, the feed list ---------------------------------------------


def source_client(settings: Settings, name: str) -> httpx.Client:
    """The polite HTTP client of one source, set up from its settings."""
    config = settings.source(name)
    return make_client(
        name,
        user_agent=settings.full_user_agent,
        delay=config.delay,
        timeout=config.timeout,
        max_retries=config.max_retries,
        backoff=config.backoff,
        max_backoff=config.max_backoff,
        extra_header=config.extra_header,
        max_bytes=getattr(config, "max_bytes", None),
    )


def add_paper(engine: Engine, settings: Settings, ref: str) -> tuple[Document, str]:
    """Fetch one arXiv paper now (`arxiv:ID`, a bare id or a URL) and store it.

    Returns the stored document and what happened to it: new, updated or unchanged.
    """
    from tracker.ingest.arxiv import ArxivSource, paper_id

    arxiv_id = paper_id(ref)
    if arxiv_id is None:
        raise ConfigError(f"'{ref}' is not an arXiv id or URL; give e.g. arxiv:2306.12345 or "
                          f"https://arxiv.org/abs/2306.12345")
    client = source_client(settings, "arxiv")
    try:
        document = ArxivSource(settings.sources.arxiv).fetch_one(client, arxiv_id)
    finally:
        client.close()
    with session_scope(engine) as session:
        counts = store.upsert_documents(session=session, documents=[document])
        stored = store.get_document(session=session, ref=f"arxiv:{document.native_id}")
    outcome = "new" if counts.new else "updated" if counts.updated else "unchanged"
    return stored, outcome


@dataclass
class FeedInfo:
    """A feed with its saved state (health) and the number of entries stored from it."""

    feed: Feed
    state: FeedState
    entries: int


def list_feeds(engine: Engine, settings: Settings) -> list[FeedInfo]:
    """Configured and added feeds with their health."""
    from tracker.ingest.feedlist import FeedState, resolve_feeds

    with session_scope(engine) as session:
        cursor = store.get_cursor(session=session, source="feeds")
        feeds = resolve_feeds(settings.sources.feeds, cursor)
        counts = store.count_by_source(session=session, sources=[f.name for f in feeds])
    return [FeedInfo(f, FeedState.load(cursor.get(f.stream), f.url), counts.get(f.name, 0))
            for f in feeds]


def add_feeds(
    engine: Engine, settings: Settings, configs: Sequence[FeedConfig]
) -> list[tuple[Feed, bool]]:
    """Subscribe to feeds (kept in the database); False marks one already in the list."""
    from tracker.ingest.feedlist import FeedState, check_name, feed_name, resolve_feeds, same_url
    from tracker.ingest.feedlist import slug as make_slug
    from tracker.models import utcnow

    results: list[tuple[Feed, bool]] = []
    with session_scope(engine) as session:
        cursor = dict(store.get_cursor(session=session, source="feeds"))
        for config in configs:
            if not config.url.startswith(("http://", "https://")):
                raise ConfigError(f"'{config.url}' is not an http(s) URL; give the feed's "
                                  f"address, e.g. https://example.substack.com/feed")
            feeds = resolve_feeds(settings.sources.feeds, cursor)
            known = next((f for f in feeds if same_url(f.url, config.url)), None)
            if known is not None:
                results.append((known, False))
                continue
            taken = {f.name for f in feeds}
            name = config.name or make_slug(config.title or "")
            if config.name and (problem := check_name(config.name, taken)) is not None:
                raise ConfigError(f"Cannot name the feed '{config.name}': {problem}")
            if not name or check_name(name, taken) is not None:
                name = feed_name(config.url, taken)
            state = FeedState.load(cursor.get(_stream(config.url)), config.url)
            state = state.model_copy(update={
                "subscribed": True, "name": name, "title": config.title,
                "author": config.author, "added_at": utcnow()})
            cursor[_stream(config.url)] = state.dump()
            store.save_cursor(session=session, source="feeds",
                              values={_stream(config.url): state.dump()})
            added = resolve_feeds(settings.sources.feeds, cursor)
            results.append((next(f for f in added if f.url == config.url), True))
    return results


def remove_feed(engine: Engine, settings: Settings, ref: str) -> Feed:
    """Unsubscribe from an added feed, by URL or name; its stored entries stay."""
    from tracker.errors import NotFoundError
    from tracker.ingest.feedlist import resolve_feeds, same_url

    with session_scope(engine) as session:
        cursor = store.get_cursor(session=session, source="feeds")
        for feed in resolve_feeds(settings.sources.feeds, cursor):
            if feed.name != ref and not same_url(feed.url, ref):
                continue
            if feed.origin == "config":
                raise ConfigError(f"The feed {feed.url} is configured in sources.feeds.feeds "
                                  f"(config.toml or TRACKER_SOURCES__FEEDS__FEEDS); remove it "
                                  f"there")
            store.delete_cursor(session=session, source="feeds", stream=feed.stream)
            return feed
    raise NotFoundError(f"No feed '{ref}'; `tracker feeds list` shows names and URLs")


def _stream(url: str) -> str:
    from tracker.ingest.feedlist import state_stream

    return state_stream(url)


# --- the search index ------------------------------------------------------------------------


@dataclass
class IndexReport:
    """What one `tracker index` did."""

    model: str = ""
    documents: int = 0
    """Documents whose passages were (re)built."""
    passages_added: int = 0
    passages_removed: int = 0
    embedded: int = 0
    vectors_removed: int = 0
    """Vectors dropped because their passage changed or went away."""
    pending: int = 0
    """Passages still without a vector when the run stopped (after `limit`)."""
    embed_seconds: float = 0.0


IndexProgress = Callable[[str, int, int], None]
"""Called with a phase (`split` or `embed`), the work done and the total."""

_SPLIT_PAGE = 200  # documents per transaction while splitting


def make_embedder(settings: Settings) -> Embedder:
    """The configured sentence-transformers model (imports torch: seconds)."""
    from tracker.index.embedder import SentenceTransformerEmbedder

    config = settings.index
    return SentenceTransformerEmbedder(config.model, batch_size=config.batch_size,
                                       threads=config.threads)


def index_documents(
    engine: Engine,
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    progress: IndexProgress | None = None,
    limit: int | None = None,
) -> IndexReport:
    """Split new and changed documents into passages, then embed passages that lack a vector.

    Resumable: passages are committed per page of documents, and vectors are saved before the
    rows that record them are committed, so an interrupted run loses at most one checkpoint.

    Args:
        engine: the store.
        settings: `settings.index` gives the model, batch sizes and checkpoint interval.
        embedder: the model to use; default the configured one, loaded only if needed.
        progress: called as work advances.
        limit: embed at most this many passages in this run.
    """
    from tracker.index.backends import open_keyword_index

    report = IndexReport(model=embedder.name if embedder else settings.index.model)
    open_keyword_index(engine).ensure()
    _split_documents(engine, settings, report, progress)
    from tracker import passages

    with session_scope(engine) as session:
        todo = passages.count_passages_to_embed(session=session, model=report.model)
    if todo and embedder is None:
        embedder = make_embedder(settings)
    _embed_passages(engine, settings, embedder, report, progress, todo, limit)
    return report


def chunk_version(settings: Settings) -> str:
    """What a document's passages were split with; a change re-splits every document."""
    from tracker.index.chunk import CHUNKER_VERSION

    return f"{CHUNKER_VERSION}:{settings.index.max_words}:{settings.index.min_words}"


def _split_documents(engine: Engine, settings: Settings, report: IndexReport,
                     progress: IndexProgress | None) -> None:
    from tracker import passages
    from tracker.index.chunk import split_passages

    config = settings.index
    version = chunk_version(settings)
    with session_scope(engine) as session:
        total = passages.count_documents_to_split(session=session, version=version)
    while total:
        with session_scope(engine) as session:
            docs = passages.documents_to_split(session=session, version=version,
                                               limit=_SPLIT_PAGE)
            for doc in docs:
                spans = [] if doc.deleted else split_passages(
                    doc.body_text, max_words=config.max_words, min_words=config.min_words)
                new = [passages.NewPassage(s.ordinal, s.start, s.end,
                                           doc.body_text[s.start:s.end], doc.title, doc.authors)
                       for s in spans]
                added, removed = passages.replace_passages(
                    session=session, document_id=doc.id, passages=new, state=doc.state)
                report.passages_added += added
                report.passages_removed += removed
        if not docs:
            break
        report.documents += len(docs)
        if progress is not None:
            progress("split", report.documents, total)


def _embed_passages(
    engine: Engine, settings: Settings, embedder: Embedder | None, report: IndexReport,
    progress: IndexProgress | None, todo: int, limit: int | None,
) -> None:
    from tracker.index.backends import open_vector_index

    dim = embedder.dim if embedder is not None else None
    vectors = open_vector_index(engine, report.model, dim, writable=True,
                                ef_search=settings.index.ef_search)
    try:
        if vectors.dim:
            _reconcile(engine, vectors, report)
        if embedder is not None and todo:
            _embed_loop(engine, settings, embedder, vectors, report, progress, todo, limit)
    finally:
        vectors.close()


def _reconcile(engine: Engine, vectors: VectorIndex, report: IndexReport) -> None:
    """Drop vectors no passage records (changed or deleted passages, a crash before commit);
    forget records whose vector is missing (a lost or older vector file)."""
    from tracker import passages

    with session_scope(engine) as session:
        recorded = passages.embedded_ids(session=session, model=report.model)
    stored = vectors.keys()
    orphans = stored - recorded
    if orphans:
        report.vectors_removed += vectors.remove(orphans)
        vectors.save()
    missing = recorded - stored
    if missing:
        log.warning("%d passages recorded as embedded have no vector; embedding them again",
                    len(missing))
        with session_scope(engine) as session:
            passages.forget_embeddings(session=session, model=report.model, passage_ids=missing)


def _embed_loop(
    engine: Engine, settings: Settings, embedder: Embedder, vectors: VectorIndex,
    report: IndexReport, progress: IndexProgress | None, todo: int, limit: int | None,
) -> None:
    import time

    from tracker import passages
    from tracker.index.chunk import embedding_text

    config = settings.index
    total = todo if limit is None else min(todo, limit)
    unsaved: list[tuple[int, str]] = []
    last_save, save_cost, after = time.monotonic(), 0.0, 0

    def checkpoint() -> None:
        nonlocal unsaved, last_save, save_cost
        if not unsaved:
            return
        started = time.monotonic()
        vectors.save()  # first the vectors, then the rows that say they exist
        with session_scope(engine) as session:
            passages.mark_embedded(session=session, model=report.model, passages=unsaved)
        last_save = time.monotonic()
        save_cost, unsaved = last_save - started, []

    try:
        while report.embedded < total:
            with session_scope(engine) as session:
                batch = passages.passages_to_embed(
                    session=session, model=report.model, after=after,
                    limit=min(config.group_size, total - report.embedded))
            if not batch:
                break
            started = time.perf_counter()
            matrix = embedder.embed_batch([embedding_text(p.title, p.text) for p in batch])
            report.embed_seconds += time.perf_counter() - started
            vectors.add([p.id for p in batch], matrix)
            unsaved += [(p.id, p.content_hash) for p in batch]
            after, report.embedded = batch[-1].id, report.embedded + len(batch)
            # Saving rewrites the whole file: never spend more than a tenth of the time on it.
            if time.monotonic() - last_save >= max(config.checkpoint_seconds, 10 * save_cost):
                checkpoint()
            if progress is not None:
                progress("embed", report.embedded, total)
    finally:
        checkpoint()
    report.pending = todo - report.embedded


def open_searcher(engine: Engine, settings: Settings) -> HybridSearcher:
    """Keyword, vector and fuzzy search over the store, for `tracker search` and `similar`.

    The query embedder is loaded only when there are vectors to search; for the default
    model it is the numpy copy (no torch import) unless `index.fast_query` is off.
    """
    from tracker.index.backends import open_keyword_index, open_vector_index
    from tracker.index.catalog import Catalog
    from tracker.index.hybrid import HybridSearcher

    config = settings.index
    keyword = open_keyword_index(engine, row_budget=config.keyword_budget)
    vectors = open_vector_index(engine, config.model, None, writable=False,
                                ef_search=config.ef_search)
    embedder = make_query_embedder(settings) if vectors.count() else None
    return HybridSearcher(Catalog(engine), keyword, vectors, embedder)


def make_query_embedder(settings: Settings) -> Embedder:
    """The embedder for queries: the numpy MiniLM when it can stand in for the model."""
    from tracker.index.fastembed import NumpyMiniLM, supports

    config = settings.index
    if config.fast_query and supports(config.model):
        return NumpyMiniLM(config.model)
    return make_embedder(settings)


# --- scheduled jobs (`tracker serve`; the job store refers to them by name) -----------------


def scheduled_sync(name: str) -> None:
    """Sync one source from the scheduler, then update the index if anything changed."""
    from tracker.scheduler import run_sync

    run_sync(name)


def scheduled_digest() -> None:
    """Build (and mail) the digest of the week just ended, from the scheduler."""
    from tracker.scheduler import run_digest

    run_digest()
