"""'Has this been argued before?': the earliest and the strongest posts making an argument.

Passage-level retrieval (keyword and vector search per chunk of the text, fused per document,
each document shown by its best passage), one entry per work (a cross-post counts once, under
its earliest copy), and the citation graph: a post that the other matches cite is the one a
writer should cite, so citations from them weigh most in "strongest".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from tracker import store
from tracker.config import Settings
from tracker.errors import TrackerError
from tracker.store.engine import session_scope

if TYPE_CHECKING:
    from tracker.index.hybrid import HybridSearcher
    from tracker.index.suggest import Related

MAX_TEXT_CHARS = 20_000  # a long draft is fine (it is chunked); a whole book is not
_POOL = 4  # candidates gathered per result asked for, before de-duplication and re-ranking
_RELEVANT_SHARE = 0.5  # "earliest" only among matches at least this close to the best one
_CITED_BY_MATCH = 0.5  # weight of each citation from another match, relative to the best match


@dataclass
class ArguedPost:
    """One post (or comment, paper) that makes the argument, and where."""

    document_id: int
    title: str
    authors: list[str]
    posted_at: datetime | None
    url: str | None
    source: str
    kind: str
    quote: str
    start: int
    end: int
    score: float
    """Closeness to the text (fused reciprocal rank, normalised to the best match = 1)."""
    cited_by: int
    """How many stored documents cite it."""
    cited_by_matches: int
    """How many of the other matches cite it."""
    also_at: list[str] = field(default_factory=list)
    """URLs of cross-posted copies of the same work."""


@dataclass
class ArguedReport:
    """The answer to 'has this been argued before?'."""

    text: str
    earliest: list[ArguedPost]
    """Close matches, oldest first (the original to cite)."""
    strongest: list[ArguedPost]
    """Matches by closeness and by how much the others cite them, best first."""
    vectors: bool = False

    def to_json(self) -> dict[str, Any]:
        """The stable `tracker argued --json` document."""
        def one(post: ArguedPost) -> dict[str, Any]:
            row = asdict(post)
            row["posted_at"] = post.posted_at.isoformat() if post.posted_at else None
            row["score"] = round(post.score, 4)
            return row
        return {"text": self.text, "vectors": self.vectors,
                "earliest": [one(p) for p in self.earliest],
                "strongest": [one(p) for p in self.strongest]}


def argued_before(engine: Engine, settings: Settings, text: str, *, limit: int = 10,
                  searcher: HybridSearcher | None = None) -> ArguedReport:
    """The earliest and the strongest stored posts that make the same argument as `text`."""
    from tracker.claims.suggest import check_candidates
    from tracker.search.searcher import open_searcher

    text = _checked(text)
    searcher = searcher or open_searcher(engine, settings)
    related, vectors = check_candidates(searcher, text, limit * _POOL)
    posts = _posts(engine, searcher, related)
    if not posts:
        return ArguedReport(text, [], [], vectors)
    relevant = [p for p in posts if p.score >= _RELEVANT_SHARE]
    far_past = datetime.max
    earliest = sorted(relevant, key=lambda p: (p.posted_at.replace(tzinfo=None)
                                               if p.posted_at else far_past, p.document_id))
    strongest = sorted(posts, key=lambda p: (-_strength(p), p.document_id))
    return ArguedReport(text, earliest[:limit], strongest[:limit], vectors)


def _checked(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise TrackerError('Nothing to look for: give the argument, e.g. `tracker argued '
                           '"Goodhart\'s law dooms proxy optimisation"`')
    if len(text) > MAX_TEXT_CHARS:
        raise TrackerError(f"The text has {len(text)} characters; give the argument in at most "
                           f"{MAX_TEXT_CHARS} (a paragraph or a section is enough)")
    return text


def _strength(post: ArguedPost) -> float:
    return post.score + _CITED_BY_MATCH * post.cited_by_matches \
        + 0.05 * math.log1p(post.cited_by)


def _posts(engine: Engine, searcher: HybridSearcher, related: list[Related]) -> list[ArguedPost]:
    """Matches as posts, one per work, with their citations."""
    info = searcher.catalog.passages(r.passage_id for r in related)
    related = [r for r in related if r.passage_id in info]
    best = max((r.score for r in related), default=0.0) or 1.0
    ids = [r.document_id for r in related]
    with session_scope(engine) as session:
        refs = store.document_refs(session=session, document_ids=ids)
        citing = store.citing_documents(session=session, document_ids=ids)
        copies = {d: [doc for doc, _ in store.same_work(session=session, document_id=d)]
                  for d in ids}
    matched = set(ids)
    seen: set[int] = set()
    posts = []
    for r in related:
        ref = refs.get(r.document_id)
        if ref is None or ref.deleted or r.document_id in seen:
            continue
        twins = [c for c in copies[r.document_id] if c.id is not None]
        seen |= {r.document_id, *(c.id for c in twins if c.id is not None)}
        cited = set(citing[r.document_id]).union(*(citing.get(c.id or 0, set()) for c in twins))
        passage = info[r.passage_id]
        posts.append(ArguedPost(
            document_id=ref.id, title=ref.title, authors=ref.authors, posted_at=ref.posted_at,
            url=ref.url, source=ref.source, kind=ref.kind, quote=passage.text,
            start=passage.start, end=passage.end, score=r.score / best, cited_by=len(cited),
            cited_by_matches=len(cited & matched - {r.document_id}),
            also_at=[c.url for c in twins if c.url]))
    return posts
