"""Indexing:

documents split into passages, passages embedded, keyword and vector sides kept in step;
resumable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tracker.config import Settings
from tracker.errors import IndexBackendError
from tracker.store.engine import analyze, session_scope

if TYPE_CHECKING:

    from tracker.index.base import Embedder, VectorIndex

log = logging.getLogger(__name__)


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
    keyword_rebuilt: str = ""
    """Why the keyword index was built from scratch in this run ("" when it was updated)."""
    static: IndexReport | None = None
    """The static tier's run, when `index.static_tier` is on."""
    onnx_exported: bool = False
    """Whether this run exported the ONNX query encoder (once per data directory)."""
    analyzed: bool = False
    """Whether this run refreshed PostgreSQL's planner statistics (after a bulk load)."""


IndexProgress = Callable[[str, int, int], None]
"""Called with a phase (`split` or `embed`), the work done and the total."""

_SPLIT_PAGE = 200  # documents per transaction while splitting
_PRIORITY_WINDOW = 8  # groups of passages fetched per priority query


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
    from tracker.search.models import effective

    settings = effective(settings)
    report = IndexReport(model=embedder.name if embedder else settings.index.model)
    if settings.index.static_tier:
        _require_static(settings)  # before splitting: a missing model costs nothing
    _split_and_follow(engine, settings, report, progress)
    if settings.index.static_tier:
        report.static = _index_static(engine, settings, progress)
    from tracker.store import passages

    with session_scope(engine) as session:
        todo = passages.count_passages_to_embed(session=session, model=report.model)
    if todo and embedder is None:
        embedder = make_embedder(settings)
    _embed_passages(engine, settings, embedder, report, progress, todo, limit)
    if _bulk(engine, report):
        report.analyzed = analyze(engine)
    searched_with = report.model == settings.index.model  # not a model handed in by a caller
    if searched_with and (report.embedded or (todo == 0 and _has_vectors(engine, report.model))):
        # Only where searches will embed queries; with torch loaded it adds ~30 s, not ~40.
        report.onnx_exported = _export_query_encoder(settings, progress)
    return report


def _bulk(engine: Engine, report: IndexReport) -> bool:
    """Whether the run added a tenth of the passages or more: PostgreSQL's autovacuum would
    re-analyze them too (its threshold: 50 rows + 10%), but a minute or more later."""
    changed = max(report.passages_added, report.embedded)
    if not changed or engine.dialect.name != "postgresql":
        return False
    from tracker.index.catalog import Catalog

    return changed >= 0.1 * Catalog(engine).count_passages()


def _has_vectors(engine: Engine, model: str) -> bool:
    from tracker.store import passages

    with session_scope(engine) as session:
        return passages.has_vectors(session=session, model=model)


def _export_query_encoder(settings: Settings, progress: IndexProgress | None) -> bool:
    """Export the packaged model to ONNX once, so that `tracker search` never loads torch."""
    from tracker.index.onnx_embedder import export_onnx, exportable, onnx_export

    model = settings.index.model
    if not settings.index.fast_query or not exportable(model) or onnx_export(model):
        return False
    if progress is not None:
        progress("onnx", 0, 1)
    try:
        export_onnx(model)  # ~30 s on a loaded 2-core machine, once per data directory
    except IndexBackendError as e:
        # The index itself is done; searches use sentence-transformers until a later run.
        log.warning("%s; searches load torch until `tracker index` exports it", e)
        return False
    if progress is not None:
        progress("onnx", 1, 1)
    return True


def split_documents(
    engine: Engine, settings: Settings, *, progress: IndexProgress | None = None
) -> IndexReport:
    """Only the splitting half of `index_documents`: new and changed documents become
    passages, which the keyword index follows at once (an import or backfill calls this so
    what it stored is keyword-searchable before any embedding)."""
    report = IndexReport(model=settings.index.model)
    _split_and_follow(engine, settings, report, progress)
    return report


def _split_and_follow(engine: Engine, settings: Settings, report: IndexReport,
                      progress: IndexProgress | None) -> None:
    """Split new and changed documents; then the keyword index follows the passages (tantivy
    is updated after the SQL rows it reflects commit; FTS5 follows by trigger)."""
    from tracker.index.backends import open_keyword_index
    from tracker.index.tantivyindex import TantivyKeywordIndex

    keywords = open_keyword_index(engine, kind=settings.index.keyword_engine)
    keywords.ensure()
    _split_documents(engine, settings, report, progress)
    if isinstance(keywords, TantivyKeywordIndex):
        from tracker.search.keywords import sync_keywords

        report.keyword_rebuilt = sync_keywords(engine, progress=progress).rebuilt
    elif engine.dialect.name == "postgresql":  # the anchor evidence of cited documents
        from tracker.search.pgkeywords import sync_anchors

        sync_anchors(engine)


def _require_static(settings: Settings) -> None:
    from tracker.index.local_models import local_model_path
    from tracker.search.models import static_model

    name = static_model(settings)
    if local_model_path(name) is None:
        raise IndexBackendError(f"No static model '{name}' in the data directory; run "
                                f"`tracker model distill` first, or drop --static-tier")


def _index_static(engine: Engine, settings: Settings,
                  progress: IndexProgress | None) -> IndexReport:
    """Embed every passage that lacks one with the static model (fast: the bulk first tier)."""
    from tracker.index.static import StaticEmbedder
    from tracker.search.models import static_model
    from tracker.store import passages

    report = IndexReport(model=static_model(settings))
    with session_scope(engine) as session:
        todo = passages.count_passages_to_embed(session=session, model=report.model)
    embedder = StaticEmbedder(report.model) if todo else None

    def static_progress(phase: str, done: int, total: int) -> None:
        if progress is not None:
            progress("static", done, total)

    _embed_passages(engine, settings, embedder, report, static_progress, todo, None)
    return report


def chunk_version(settings: Settings) -> str:
    """What a document's passages were split with; a change re-splits every document."""
    from tracker.index.chunk import CHUNKER_VERSION

    return f"{CHUNKER_VERSION}:{settings.index.max_words}:{settings.index.min_words}"


def _split_documents(engine: Engine, settings: Settings, report: IndexReport,
                     progress: IndexProgress | None) -> None:
    from tracker.index.chunk import split_passages
    from tracker.store import passages

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
    removed, _ = reconcile(engine, vectors, report.model)
    report.vectors_removed += removed


def reconcile(engine: Engine, vectors: VectorIndex, model: str) -> tuple[int, int]:
    """Drop vectors no passage records (changed or deleted passages, a crash before commit);
    forget records whose vector is missing (a lost or older vector file), so that the next
    index run embeds them again. Returns (vectors removed, records forgotten)."""
    from tracker.store import passages

    with session_scope(engine) as session:
        recorded = passages.embedded_ids(session=session, model=model)
    stored = vectors.keys()
    orphans, removed = stored - recorded, 0
    if orphans:
        removed = vectors.remove(orphans)
        vectors.save()
    missing = recorded - stored
    if missing:
        log.warning("%d passages recorded as embedded have no vector; embedding them again",
                    len(missing))
        with session_scope(engine) as session:
            passages.forget_embeddings(session=session, model=model, passage_ids=missing)
    return removed, len(missing)


def reconcile_vectors(engine: Engine, settings: Settings) -> tuple[int, int]:
    """`reconcile` for the configured model; an unreadable vector file is moved aside (as
    `*.unreadable`) and every record of it forgotten, so `tracker index` starts it afresh."""
    from tracker.index.backends import open_vector_index
    from tracker.index.sqlite import vector_file
    from tracker.search.models import effective

    model = effective(settings).index.model
    try:
        vectors = open_vector_index(engine, model, None, writable=True)
    except IndexBackendError as e:
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or "Cannot read" not in e.msg:
            raise
        path = vector_file(Path(database), model)
        for part in (path, path.with_suffix(".json")):
            if part.exists():
                part.replace(part.with_name(part.name + ".unreadable"))
        vectors = open_vector_index(engine, model, None, writable=True)
    try:
        return reconcile(engine, vectors, model)
    finally:
        vectors.close()


def _embed_loop(
    engine: Engine, settings: Settings, embedder: Embedder, vectors: VectorIndex,
    report: IndexReport, progress: IndexProgress | None, todo: int, limit: int | None,
) -> None:
    import time

    from tracker.index.chunk import embedding_text
    from tracker.store import coverage, passages

    config = settings.index
    total = todo if limit is None else min(todo, limit)
    unsaved: list[tuple[int, str]] = []
    last_save, save_cost, run_start = time.monotonic(), 0.0, time.monotonic()

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
        queue: list[passages.PendingPassage] = []
        while report.embedded < total:
            if not queue:
                # Most wanted first (opened/tagged, posts, karma): a partly built index
                # already answers for what matters; `unsaved` are embedded, not yet recorded.
                # The sort costs ~0.4 s at 94k passages (bench/import.py), so it runs once
                # per _PRIORITY_WINDOW groups rather than per group.
                with session_scope(engine) as session:
                    queue = coverage.passages_by_priority(
                        session=session, model=report.model,
                        limit=_PRIORITY_WINDOW * config.group_size,
                        exclude={pid for pid, _ in unsaved})
            want = min(config.group_size, total - report.embedded)
            batch, queue = queue[:want], queue[want:]
            if not batch:
                break
            started = time.perf_counter()
            matrix = embedder.embed_batch([embedding_text(p.title, p.text) for p in batch])
            report.embed_seconds += time.perf_counter() - started
            vectors.add([p.id for p in batch], matrix)
            unsaved += [(p.id, p.content_hash) for p in batch]
            report.embedded += len(batch)
            # Saving rewrites the whole file: never spend more than a tenth of the time on it.
            if time.monotonic() - last_save >= max(config.checkpoint_seconds, 10 * save_cost):
                checkpoint()
            if progress is not None:
                progress("embed", report.embedded, total)
    finally:
        checkpoint()
        if report.embedded:
            with session_scope(engine) as session:
                coverage.save_rate(session=session, model=report.model,
                                   per_second=report.embedded / (time.monotonic() - run_start))
    report.pending = todo - report.embedded
