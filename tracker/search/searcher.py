"""The searcher over the store: keyword, vector and fuzzy search, and the embedder for queries."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine

from tracker.config import Settings
from tracker.errors import IndexBackendError, KeywordWriterBusy
from tracker.search.indexing import make_embedder
from tracker.search.models import effective, static_model

if TYPE_CHECKING:

    from tracker.index.base import Embedder, VectorIndex
    from tracker.index.hybrid import HybridSearcher
    from tracker.index.tantivyindex import TantivyKeywordIndex

log = logging.getLogger(__name__)
_A = TypeVar("_A")
_T = TypeVar("_T")


def open_searcher(engine: Engine, settings: Settings) -> HybridSearcher:
    """Keyword, vector and fuzzy search over the store, for `tracker search` and `similar`.

    The query embedder is loaded only when there are vectors to search; for the default
    model it is ONNX Runtime (no torch import) once `tracker index` exported it, unless
    `index.fast_query` is off.
    """
    from tracker.index.backends import open_keyword_index, open_vector_index
    from tracker.index.catalog import Catalog
    from tracker.index.hybrid import HybridSearcher, Understanding

    settings = effective(settings)
    config = settings.index
    encoder = _load_encoder_ahead(settings)
    keyword = open_keyword_index(engine, row_budget=config.keyword_budget,
                                 kind=config.keyword_engine)
    from tracker.index.tantivyindex import TantivyKeywordIndex

    if isinstance(keyword, TantivyKeywordIndex):
        _mend_keywords(engine, keyword)
    vectors: VectorIndex = open_vector_index(engine, config.model, None, writable=False,
                                             ef_search=config.ef_search)
    embedder = None
    if vectors.count():
        embedder = encoder.result() if encoder else make_query_embedder(settings)
    if config.static_tier:
        vectors, embedder = _first_tier(engine, settings, vectors, embedder)
    understanding = Understanding(aliases=config.aliases,
                                  first_names=config.author_first_names,
                                  prf_passages=config.prf_passages)
    return HybridSearcher(Catalog(engine), keyword, vectors, embedder,
                          understanding=understanding)


def _load_encoder_ahead(settings: Settings) -> Future[Embedder] | None:
    """The exported ONNX query encoder, loading in a thread of its own (0.2 s, overlapping
    the opening of the indexes); None without an export (torch is loaded only when needed)."""
    from tracker.index.onnx_embedder import onnx_export

    if not settings.index.fast_query or onnx_export(settings.index.model) is None:
        return None
    return beside(make_query_embedder, settings, name="tracker-encoder")


def beside(work: Callable[[_A], _T], arg: _A, *, name: str) -> Future[_T]:
    """`work(arg)` started in a thread of its own, which ends with it; its result (or its
    error) when asked for. For start-up work that can overlap opening the indexes."""
    pool = ThreadPoolExecutor(1, thread_name_prefix=name)
    future = pool.submit(work, arg)
    pool.shutdown(wait=False)
    return future


def _mend_keywords(engine: Engine, keyword: TantivyKeywordIndex) -> None:
    """Build the keyword index from the store when it is missing or unreadable while passages
    exist (a deleted or damaged folder); `sync_keywords` logs the one line that says so. On
    PostgreSQL the replica also catches up with what other machines wrote (a lock and two
    queries when nothing is new)."""
    from tracker.search.keywords import keyword_problem, sync_keywords

    problem = keyword_problem(keyword)
    if problem:
        # Said on stderr whatever the log level: the first search after it pays for the build.
        print(f"tracker: the keyword index at {keyword.folder} is {problem}; rebuilding it "
              f"from the store", file=sys.stderr)
    if problem:
        sync_keywords(engine)  # rebuilds what is unusable, brings the rest in step
        keyword.close()
    elif engine.dialect.name == "postgresql":
        # Another process catching this replica up holds the writer: search it as it stands.
        with contextlib.suppress(KeywordWriterBusy):
            sync_keywords(engine)
        keyword.close()


def _first_tier(engine: Engine, settings: Settings, main: VectorIndex,
                embedder: Embedder | None) -> tuple[VectorIndex, Embedder | None]:
    """The static tier in front of the main model, when it has vectors (else `main` alone)."""
    from tracker.index.backends import open_vector_index
    from tracker.index.static import StaticEmbedder
    from tracker.index.tiered import TieredEmbedder, TieredVectors

    config = settings.index
    name = static_model(settings)
    static = open_vector_index(engine, name, None, writable=False, ef_search=config.ef_search)
    if not static.count():
        static.close()
        return main, embedder
    query = embedder or make_query_embedder(settings)
    tiered = TieredVectors(static, main, rescore=config.rescore)
    return tiered, TieredEmbedder(StaticEmbedder(name), query)


def make_query_embedder(settings: Settings) -> Embedder:
    """The embedder for queries: ONNX Runtime when `tracker index` exported the model, else
    sentence-transformers (torch: seconds to start)."""
    from tracker.index.onnx_embedder import OnnxEmbedder, onnx_export

    config = settings.index
    file = onnx_export(config.model) if config.fast_query else None
    if file is not None:
        try:
            return OnnxEmbedder(config.model, file)
        except IndexBackendError as e:
            # Said whatever the log level: the search still answers, only slower to start.
            print(f"tracker: {e}; using sentence-transformers meanwhile", file=sys.stderr)
    return make_embedder(settings)


# --- scheduled jobs (`tracker serve`; the job store refers to them by name) -----------------
