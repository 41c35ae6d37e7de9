"""Keyword-only search quality: tantivy vs SQLite FTS5 vs plain BM25 (bm25s), one run.

    .venv/bin/python bench/keyword_quality.py [--queries ../shared/eval/queries-dev.jsonl]
        [--store .bench/keyword-quality] [--boosts title=4,authors=2,text=1,anchors=2]
        [--tune bench/search_queries.jsonl [--tune-ranking keyword|fused]]

The store holds the 8,424 corpus posts with a body (../shared/corpus/posts.jsonl.gz), stored
through `store.upsert_documents` as the sources store them (HTML parsed by `parse_body`, so
links, anchor text and citing sentences are real and resolve between posts; Arbital and
TurnTrout markdown kept as text), split into passages by `tracker index` (no vectors), and
indexed by both keyword engines in the same SQLite file (FTS5 by its triggers, tantivy beside
it). It is built once and reused.

Each query is searched as the searcher does (`parse_hints`, 200 passages, documents in the
order of their best passage). Also printed: the shipped fusion without vectors (keyword,
fuzzy title, author lists, hints) on each engine, and plain BM25 (bm25s, Lucene k1 1.5
b 0.75, English stopwords, title + body, one document per post) as ../shared/eval/README.md
describes it. Recall@1, Recall@10, MRR@10, overall and per `hint_kind`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARED = REPO.parent / "shared"
POSTS = SHARED / "corpus" / "posts.jsonl.gz"
DEV = SHARED / "eval" / "queries-dev.jsonl"
STORE = REPO / ".bench" / "keyword-quality"
TOP = 10
_FORUM_SITE = {"lesswrong": "lw", "alignmentforum": "lw", "eaforum": "ea"}


def corpus_posts() -> Iterator[dict[str, Any]]:
    """Corpus posts that have a body."""
    with gzip.open(POSTS, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row.get("body_html") or row.get("body_markdown"):
                yield row


def as_document(row: dict[str, Any]) -> Any:
    """A corpus post as its source would store it (links and aliases included)."""
    from tracker.ingest.html import parse_body
    from tracker.ingest.links import forum_keys
    from tracker.models import AuthorCreate, DocumentCreate

    forum = row["forum"]
    site = _FORUM_SITE.get(forum)
    html, text, links = row.get("body_html"), row.get("body_markdown") or "", []
    if html:
        parsed = parse_body(html, row.get("url"))
        text, links = parsed.text, parsed.links
    posted = row.get("posted_at")
    return DocumentCreate(
        source="lesswrong" if forum == "alignmentforum" else forum, native_id=row["id"],
        kind="post", title=row.get("title") or "", url=row.get("url"), body_html=html,
        body_text=text, score=row.get("score"), af=bool(row.get("af")),
        posted_at=datetime.fromisoformat(posted.replace("Z", "+00:00")) if posted else None,
        authors=[AuthorCreate(name=row.get("author") or "unknown", slug=row.get("author_slug"))],
        aliases=forum_keys(site, row["id"]) if site else [], links=links)


class _NoEmbedder:
    """Stands in for the model: `tracker index` here splits and indexes keywords only."""

    name, dim = "none", 8

    def embed_batch(self, texts: Sequence[str]) -> Any:
        raise AssertionError("keyword_quality embeds nothing")


def build_store(folder: Path) -> Any:
    """The corpus store (built on first use), with both keyword engines indexed."""
    from tracker import store
    from tracker.config import load_settings
    from tracker.index.sqlite import SqliteKeywordIndex
    from tracker.search.indexing import index_documents
    from tracker.store.engine import make_engine, session_scope

    folder.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{folder / 'tracker.db'}")
    if (folder / "built").exists():
        return engine
    started = time.perf_counter()
    batch: list[Any] = []
    for row in corpus_posts():
        batch.append(as_document(row))
        if len(batch) == 200:
            with session_scope(engine) as session:
                store.upsert_documents(session=session, documents=batch)
            batch = []
    with session_scope(engine) as session:
        store.upsert_documents(session=session, documents=batch)
    stored = time.perf_counter() - started
    SqliteKeywordIndex(engine).ensure()  # FTS5 triggers before the passages are written
    settings = load_settings()
    report = index_documents(engine, settings, embedder=_NoEmbedder(), limit=0)  # type: ignore[arg-type]
    (folder / "built").write_text(json.dumps({
        "store_seconds": round(stored), "index_seconds": round(time.perf_counter() - started
                                                                - stored),
        "passages": report.passages_added}))
    print(f"built {folder}: {(folder / 'built').read_text()}")
    return engine


def load_queries(path: Path) -> list[dict[str, Any]]:
    """The queries (their `notes` are never read), in the eval format: `targets`, `hint_kind`
    (bench/search_queries.jsonl's `target`, `also` and `style` are read as those)."""
    with path.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    for row in rows:
        row.setdefault("targets", [row.get("target"), *row.get("also", [])])
        row.setdefault("hint_kind", row.get("style", "?"))
    return rows


def tune(engine: Any, tantivy: Any, path: Path, ranking: str) -> dict[str, float]:
    """The tantivy boosts best on the queries of `path` (never the held-out set): a grid over
    title, authors and anchors (text fixed at 1), by 2·R@1 + R@10 + MRR@10 of the `ranking`
    ("keyword" only, or "fused" as `tracker search` ranks without vectors: a smaller grid)."""
    import itertools

    queries = load_queries(path)
    texts, targets = [q["query"] for q in queries], [set(q["targets"]) for q in queries]
    scored = []
    grid = (itertools.product((0.1, 0.25, 0.5, 1.0, 2.0, 4.0), (0.5, 1.0, 2.0), (0.5, 1.0, 2.0))
            if ranking == "keyword" else
            itertools.product((0.25, 0.5, 1.0, 2.0), (1.0, 2.0), (1.0,)))
    for title, authors, anchors in grid:
        tantivy.boosts = {"title": title, "authors": authors, "text": 1.0, "anchors": anchors}
        found = engine_rankings(engine, tantivy, texts, fused=ranking == "fused")
        m = metrics(found[ranking], targets)
        scored.append((2 * m["R@1"] + m["R@10"] + m["MRR@10"], dict(tantivy.boosts), m))
        print(f"  tune {tantivy.boosts}: " + "  ".join(f"{k} {v:.3f}" for k, v in m.items()))
    best = max(scored, key=lambda row: row[0])
    print(f"best {ranking} ranking on {path.name} ({len(queries)} queries): {best[1]} {best[2]}")
    return best[1]


def metrics(rankings: Sequence[Sequence[Any]], targets: Sequence[set[Any]]) -> dict[str, float]:
    """Recall@1, Recall@10, MRR@10."""
    r1 = r10 = mrr = 0.0
    for ranking, wanted in zip(rankings, targets, strict=True):
        rank = next((i for i, d in enumerate(ranking[:TOP], 1) if d in wanted), None)
        if rank is not None:
            r1, r10, mrr = r1 + (rank == 1), r10 + 1, mrr + 1 / rank
    n = max(len(targets), 1)
    return {"R@1": r1 / n, "R@10": r10 / n, "MRR@10": mrr / n}


def bm25_rankings(queries: Sequence[str]) -> list[list[str]]:
    """Plain BM25 (bm25s) over title + body text, one document per post: native ids."""
    import bm25s

    ids, texts = [], []
    for row in corpus_posts():
        doc = as_text(row)
        ids.append(row["id"])
        texts.append(doc)
    retriever = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False),
                    show_progress=False)
    tokens = bm25s.tokenize(list(queries), stopwords="en", show_progress=False)
    found, _ = retriever.retrieve(tokens, k=TOP, show_progress=False, n_threads=1)
    return [[ids[i] for i in row] for row in found]


def as_text(row: dict[str, Any]) -> str:
    """Title and body text of a corpus post, as plain BM25 reads it."""
    from tracker.ingest.html import html_to_text

    body = html_to_text(row["body_html"]) if row.get("body_html") else row["body_markdown"]
    return f"{row.get('title') or ''}\n{body}"


def engine_rankings(engine: Any, keyword: Any, queries: Sequence[str],
                    fused: bool = True) -> dict[str, list[Any]]:
    """Keyword-only and fused (no vectors) document rankings, in native ids."""
    from tracker.index.base import SearchFilters
    from tracker.index.catalog import Catalog
    from tracker.index.hybrid import CANDIDATES, HybridSearcher, parse_hints

    searcher = HybridSearcher(Catalog(engine), keyword, None, None)
    none = SearchFilters()
    keyword_only, together = [], []
    for query in queries:
        hits = keyword.search(parse_hints(query).text or query, CANDIDATES, none)
        keyword_only.append(list(dict.fromkeys(h.document_id for h in hits)))
        if fused:
            together.append([r.document_id for r in searcher.search(query, none, limit=TOP)])
    native = native_ids(engine)
    return {"keyword": [[native[d] for d in r] for r in keyword_only],
            "fused": [[native[d] for d in r] for r in together]}


def native_ids(engine: Any) -> dict[int, str]:
    """Document id → corpus post id."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return {int(i): n for i, n in conn.execute(text("SELECT id, native_id FROM document"))}


def parse_boosts(spec: str | None) -> dict[str, float] | None:
    """`title=4,authors=2,...` as a dict (None: the shipped boosts)."""
    if not spec:
        return None
    return {k: float(v) for k, v in (part.split("=") for part in spec.split(","))}


def report(name: str, rankings: Sequence[Sequence[Any]], queries: Sequence[dict[str, Any]],
           kinds: Sequence[str]) -> None:
    """One table row: overall, then per kind."""
    targets = [set(q["targets"]) for q in queries]
    overall = metrics(rankings, targets)
    cells = []
    for kind in kinds:
        idx = [i for i, q in enumerate(queries) if q["hint_kind"] == kind]
        m = metrics([rankings[i] for i in idx], [targets[i] for i in idx])
        cells.append(f"{m['R@1']:.2f}/{m['R@10']:.2f}/{m['MRR@10']:.3f}")
    print(f"| {name} | {overall['R@1']:.2f} | {overall['R@10']:.2f} | {overall['MRR@10']:.3f} | "
          + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, default=DEV)
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--boosts", help="tantivy field boosts, e.g. title=4,text=1,...")
    parser.add_argument("--tune", type=Path, metavar="QUERIES",
                        help="first pick tantivy's boosts on these queries (not the eval set)")
    parser.add_argument("--tune-ranking", choices=("keyword", "fused"), default="keyword")
    args = parser.parse_args()
    from tracker.index.sqlite import SqliteKeywordIndex
    from tracker.search.keywords import tantivy_index

    engine = build_store(args.store)
    queries = load_queries(args.queries)
    texts = [q["query"] for q in queries]
    tantivy = tantivy_index(engine)
    if args.tune:
        if args.tune.resolve() == args.queries.resolve():
            raise SystemExit("--tune must name queries other than those evaluated")
        tantivy.boosts = tune(engine, tantivy, args.tune, args.tune_ranking)
    if args.boosts:
        tantivy.boosts = {**tantivy.boosts, **(parse_boosts(args.boosts) or {})}
    runs: dict[str, Callable[[], dict[str, list[Any]]]] = {
        "tantivy": lambda: engine_rankings(engine, tantivy, texts),
        "FTS5": lambda: engine_rankings(engine, SqliteKeywordIndex(engine), texts)}
    results = {name: run() for name, run in runs.items()}
    plain = bm25_rankings(texts)
    kinds = sorted({q["hint_kind"] for q in queries})
    print(f"{len(queries)} queries from {args.queries}; tantivy boosts {tantivy.boosts}; "
          f"FTS5 bm25 weights {SqliteKeywordIndex(engine).weights}")
    print("| method | R@1 | R@10 | MRR@10 | " + " | ".join(
        f"{k} (n={sum(q['hint_kind'] == k for q in queries)}) R@1/R@10/MRR" for k in kinds)
        + " |")
    print("|---" * (4 + len(kinds)) + "|")
    report("plain BM25 (bm25s, title+body)", plain, queries, kinds)
    for name, found in results.items():
        report(f"{name}, keyword only", found["keyword"], queries, kinds)
    for name, found in results.items():
        report(f"{name}, fused without vectors", found["fused"], queries, kinds)


if __name__ == "__main__":
    main()
