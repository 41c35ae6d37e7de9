"""Build (once) the search-evaluation store: the 8,424 corpus posts that have a body, indexed.

    .venv/bin/python bench/eval_store.py [--home /tmp/search-eval-store] [--no-index]
                                         [--vectors-from OLD_HOME]

The held-out sets (../shared/eval/queries-dev.jsonl, bench/search_queries_v2.jsonl) target the
posts of ../shared/corpus/posts.jsonl.gz that have a body: 7,119 LessWrong, Alignment Forum and
EA Forum posts and 1,305 Arbital / TurnTrout pages, the set plain BM25 is measured on. LW/AF/EA
rows become documents through the real ForumMagnum parser (`ForumSource._post_document`, the
same HTML→text and normalisation as `tracker sync`, without HTTP); Arbital and TurnTrout pages
are Markdown and go in as `arbital` / `turntrout` documents with their Markdown as text. Then
`tracker index` splits and embeds everything (MiniLM, CPU): about an hour on 2 shared cores, so
the store lives outside the repo (default /tmp/search-eval-store) and is reused between runs.
`--vectors-from` splits the new store and copies, before embedding, the vector of every passage
whose text an older evaluation store already embedded with the same model (same content hash:
the same text gives the same MiniLM vector), so rebuilding a store costs minutes, not an hour.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.corpus_db import bench_env  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "posts.jsonl.gz"
DEFAULT_HOME = Path("/tmp/search-eval-store")
FORUMS = {"lesswrong", "alignmentforum", "eaforum"}


def corpus_rows() -> Iterator[dict[str, Any]]:
    """Corpus posts that have a body."""
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row.get("body_html") or row.get("body_markdown"):
                yield row


def markdown_document(row: dict[str, Any]) -> Any:
    """An Arbital or TurnTrout page as a document (its Markdown is its text)."""
    from tracker.models import AuthorCreate, DocumentCreate
    from tracker.text import clean_text, safe_url

    source = "arbital" if row["forum"] == "arbital" else "turntrout"
    author = clean_text(row.get("author") or "")
    return DocumentCreate(
        source=source, native_id=row["id"], kind="post", url=safe_url(row.get("url")),
        title=clean_text(row["title"]), score=row.get("score"),
        posted_at=datetime.fromisoformat(row["posted_at"].replace("Z", "+00:00")),
        body_text=clean_text(row.get("body_markdown") or ""),
        authors=[AuthorCreate(name=author, slug=row.get("author_slug"))] if author else [],
        tags=[clean_text(t) for t in row.get("tags") or []])


def documents() -> Iterator[Any]:
    """Every corpus post with a body, as `tracker sync` (or an import) would store it."""
    from tests.servers.forummagnum.corpus import _post_from_row
    from tracker.config import ForumSettings
    from tracker.ingest.forum import ForumSource

    sources = {name: ForumSource(name, ForumSettings()) for name in ("lesswrong", "eaforum")}
    for row in corpus_rows():
        if row["forum"] in FORUMS:
            site = "eaforum" if row["forum"] == "eaforum" else "lesswrong"
            item = _post_from_row(row)
            yield sources[site]._post_document(item)
        else:
            yield markdown_document(row)


def load(home: Path) -> None:
    """Store the documents in `home` unless done already."""
    marker = home / "loaded"
    if marker.exists():
        print(f"documents already stored in {home}")
        return
    import os

    home.mkdir(parents=True, exist_ok=True)
    os.environ["TRACKER_HOME"] = str(home)
    from tracker import store
    from tracker.config import load_settings
    from tracker.store.engine import make_engine, session_scope

    engine = make_engine(load_settings().sqlalchemy_url)
    started, batch, total = time.perf_counter(), [], 0
    for doc in documents():
        batch.append(doc)
        if len(batch) == 500:
            with session_scope(engine) as session:
                store.upsert_documents(session=session, documents=batch)
            total, batch = total + len(batch), []
    with session_scope(engine) as session:
        store.upsert_documents(session=session, documents=batch)
    total += len(batch)
    print(f"stored {total} documents in {time.perf_counter() - started:.0f} s")
    marker.write_text(str(total))


def reuse_vectors(home: Path, old_home: Path) -> None:
    """Split `home`, then copy from `old_home` each vector whose passage text is the same."""
    import os

    os.environ["TRACKER_HOME"] = str(home)
    from tracker.config import load_settings
    from tracker.search.indexing import split_documents
    from tracker.store.engine import make_engine

    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url)
    split_documents(engine, settings)
    copy_vectors(engine, settings.index.model, old_home)
    engine.dispose()


def copy_vectors(engine: Any, model: str, old_home: Path) -> None:
    """Give each passage of `engine`'s store (SQLite or PostgreSQL) that lacks a vector of
    `model` the vector an older SQLite evaluation store holds for the same text."""
    from sqlalchemy import text

    from tracker.index.backends import open_vector_index
    from tracker.index.sqlite import UsearchIndex, vector_file
    from tracker.store import passages
    from tracker.store.engine import make_engine, session_scope

    old_db = old_home / "tracker.db"
    old_engine = make_engine(f"sqlite:///{old_db}")
    with old_engine.connect() as conn:
        by_hash = dict(conn.execute(text(
            "SELECT content_hash, passage_id FROM passageembedding WHERE model = :m"),
            {"m": model}).all())
    old_engine.dispose()
    with engine.connect() as conn:
        wanted = conn.execute(text(
            "SELECT p.id, p.content_hash FROM passage p WHERE NOT EXISTS (SELECT 1 FROM "
            "passageembedding e WHERE e.passage_id = p.id AND e.model = :m)"),
            {"m": model}).all()
    found = [(pid, digest) for pid, digest in wanted if digest in by_hash]
    old = UsearchIndex(vector_file(old_db, model), model)
    new = open_vector_index(engine, model, old.dim, writable=True)
    for start in range(0, len(found), 5000):
        part = found[start : start + 5000]
        got = old.get([by_hash[digest] for _, digest in part])
        keep = [(pid, digest) for pid, digest in part if by_hash[digest] in got]
        if keep:
            new.add([pid for pid, _ in keep],
                    np.stack([got[by_hash[digest]] for _, digest in keep]))
            new.save()
            with session_scope(engine) as session:
                passages.mark_embedded(session=session, model=model, passages=keep)
    new.close()
    old.close()
    print(f"{engine.dialect.name}: copied {len(found)} of {len(wanted)} passage vectors from "
          f"{old_home}; {len(wanted) - len(found)} left for `tracker index`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--no-index", action="store_true")
    parser.add_argument("--vectors-from", type=Path, default=None,
                        help="an older evaluation store whose vectors to reuse")
    args = parser.parse_args()
    load(args.home)
    if args.vectors_from is not None:
        reuse_vectors(args.home, args.vectors_from)
    if not args.no_index:
        subprocess.run([str(REPO / ".venv" / "bin" / "tracker"), "index"],
                       env=bench_env(args.home), check=True)


if __name__ == "__main__":
    main()
