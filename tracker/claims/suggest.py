"""Suggestions that learn from labels, and "has this been argued before?" (`claim check`).

It wires the claims' SQL (`tracker.store`) to the index (`tracker.index.suggest`) over one
hybrid searcher (`tracker.search.searcher`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tracker import store
from tracker.config import Settings
from tracker.models import DEFAULT_READER
from tracker.store import DocumentRef
from tracker.store.engine import session_scope

if TYPE_CHECKING:
    from sqlmodel import Session

    from tracker.index.base import Vectors
    from tracker.index.catalog import PassageInfo
    from tracker.index.hybrid import HybridSearcher
    from tracker.index.stance import StanceSettings
    from tracker.index.suggest import Example, Exclusions, Related, Suggestion, Tuning
    from tracker.models import Claim, ClaimLink

_CHECK_CHUNK_WORDS = 120  # a long draft is embedded in chunks of about this many words


@dataclass
class SuggestReport:
    """What `tracker claim suggest` found for one claim."""

    claim: Claim
    suggestions: list[tuple[Suggestion, ClaimLink]]
    """Both sides together, by closeness to the claim (the list before sides existed)."""
    passages: dict[int, PassageInfo]
    documents: dict[int, store.DocumentRef]
    confirmed: int = 0
    rejected: int = 0
    classifier: bool = False
    """Whether the per-claim classifier was trained (enough confirmed and rejected labels)."""
    stance_model: str = "cues"
    """`claim_labels` when the claim's own labels decide, `learned` once the user's labels on all
    claims have enough of each side, else `cues`."""
    vectors: bool = False
    """Whether vector search was available (else keyword retrieval only)."""
    supporting: list[tuple[Suggestion, ClaimLink]] = field(default_factory=list)
    opposing: list[tuple[Suggestion, ClaimLink]] = field(default_factory=list)
    stance_labels: int = 0
    """How many labels (all claims) the stance model learned from."""


_POOL = 3  # candidates per side gathered per suggestion asked for, before stance sorts them


def suggest_claim(engine: Engine, settings: Settings, claim_id: int, *, limit: int = 10,
                  searcher: HybridSearcher | None = None, tuning: Tuning | None = None,
                  save: bool = True, stance: StanceSettings | None = None,
                  reader: str = DEFAULT_READER) -> SuggestReport:
    """Rank passages that likely argue for and against a claim `reader` sees, and save them as
    suggestions.

    Rejected passages never come back; documents already confirmed for the claim are left out.
    Only the labels of claims `reader` sees (their own and shared ones) train anything.
    """
    from tracker.claims.sides import split_sides
    from tracker.index.suggest import ClaimSuggester
    from tracker.search.searcher import open_searcher

    searcher = searcher or open_searcher(engine, settings)
    with session_scope(engine) as session:
        claim = store.get_claim(session=session, claim_id=claim_id, reader=reader)
        assert claim.id is not None
        labels = store.labels(session=session, claim_id=claim.id)
        refs = store.document_refs(session=session, document_ids=[
            link.document_id for link in labels.confirmed + labels.rejected])
    examples = label_examples(searcher, labels, refs)
    exclusions = label_exclusions(labels)
    suggester = ClaimSuggester(searcher, tuning)
    pool = max(limit * _POOL, 30)
    ranked = suggester.suggest(claim.text, examples, exclusions, limit=pool)
    against = suggester.against(claim.text, exclusions, limit=pool)
    sides = split_sides(engine, searcher, claim, ranked, against, limit, stance, reader=reader)
    everything = _unique(sides.both + sides.supporting + sides.opposing)
    passages = searcher.catalog.passages(r.passage_id for r in everything)
    everything = [r for r in everything if r.passage_id in passages]
    rows = [store.Suggested(r.document_id, r.passage_id, passages[r.passage_id].start,
                             passages[r.passage_id].end, r.score, sides.stored_stance(r))
            for r in everything]
    with session_scope(engine) as session:
        if save:
            saved = store.save_suggestions(session=session, claim_id=claim.id, rows=rows,
                                           reader=reader)
        else:
            saved = [_unsaved(claim.id, row) for row in rows]
        documents = store.document_refs(session=session, document_ids=[r.document_id
                                                                         for r in everything])
    link_of = {r.passage_id: link for r, link in zip(everything, saved, strict=True)}

    def paired(found: list[Suggestion]) -> list[tuple[Suggestion, ClaimLink]]:
        return [(r, link_of[r.passage_id]) for r in found if r.passage_id in link_of]

    t = suggester.tuning
    positives = sum(e.relevant for e in examples)
    return SuggestReport(
        claim=claim, suggestions=paired(sides.both), passages=passages,
        documents=documents, confirmed=len(labels.confirmed), rejected=len(labels.rejected),
        classifier=positives >= t.min_positive and len(examples) - positives >= t.min_negative,
        stance_model=sides.model.name,
        vectors=searcher.has_vectors, supporting=paired(sides.supporting),
        opposing=paired(sides.opposing), stance_labels=sides.model.labels,
    )


def _unique(found: list[Suggestion]) -> list[Suggestion]:
    seen: dict[int, Suggestion] = {}
    for r in found:
        seen.setdefault(r.passage_id, r)
    return list(seen.values())


def _unsaved(claim_id: int, row: store.Suggested) -> ClaimLink:
    from tracker.models import ClaimLink

    return ClaimLink(claim_id=claim_id, document_id=row.document_id, quote="", start=row.start,
                     end=row.end, stance=row.stance, origin="suggested", status="suggested",
                     passage_id=row.passage_id, score=row.score)


def label_examples(searcher: HybridSearcher, labels: store.Labels,
                   refs: dict[int, store.DocumentRef]) -> list[Example]:
    """The confirmed and rejected links as embedded examples.

    A link's vector is that of the passage its span lies in; a link without an embedded
    passage (the document not indexed yet) is embedded from its quote, when a model is loaded.
    """
    from tracker.index.chunk import embedding_text
    from tracker.index.suggest import Example

    links = labels.confirmed + labels.rejected
    stored: dict[int, Vectors] = {}
    if searcher.vectors is not None and searcher.vectors.count():
        stored = searcher.vectors.get(list(set(labels.passages.values())))
    missing = [link for link in links if labels.passages.get(link.id or 0) not in stored]
    embedded: dict[int, Vectors] = {}
    if missing and searcher.embedder is not None:
        texts = [embedding_text(refs[link.document_id].title if link.document_id in refs else "",
                                link.quote) for link in missing]
        vectors = searcher.embedder.embed_batch(texts)
        embedded = {link.id or 0: vectors[i] for i, link in enumerate(missing)}
    examples = []
    for link in links:
        passage = labels.passages.get(link.id or 0)
        vector = stored.get(passage) if passage is not None else None
        if vector is None:
            vector = embedded.get(link.id or 0)
        if vector is not None:
            examples.append(Example(vector, link.status == "confirmed", link.stance,
                                    link.quote if link.status == "confirmed" else ""))
    return examples


def label_exclusions(labels: store.Labels) -> Exclusions:
    """Passages and documents the user already decided on, and rejected texts."""
    from tracker.index.suggest import Exclusions, normalise_text

    decided = labels.confirmed + labels.rejected + labels.stale
    passages = {p for p in labels.passages.values()}
    passages |= {link.passage_id for link in decided if link.passage_id is not None}
    return Exclusions(
        passages=passages,
        documents={link.document_id for link in labels.confirmed + labels.stale},
        texts={normalise_text(link.quote) for link in labels.rejected},
    )


# --- has this been argued before? ----------------------------------------------------------------


@dataclass
class CheckReport:
    """The claims and passages closest to a piece of writing."""

    claims: list[tuple[Claim, float, dict[str, int]]]
    """(claim, score, link counts), best first."""
    passages: list[tuple[int, float]]
    """(passage id, score), one per document, best first."""
    info: dict[int, PassageInfo]
    documents: dict[int, DocumentRef]
    linked: dict[int, list[tuple[ClaimLink, Claim]]] = field(default_factory=dict)
    """Passage id → the confirmed claim links in it (the stance people already gave it)."""
    vectors: bool = False


def check_text(engine: Engine, settings: Settings, text: str, *, limit: int = 10,
               searcher: HybridSearcher | None = None,
               reader: str = DEFAULT_READER) -> CheckReport:
    """The claims `reader` sees and the passages closest to `text` (a claim, a paragraph, a
    draft)."""
    from tracker.search.searcher import open_searcher

    text = " ".join(text.split())
    if not text:
        from tracker.errors import TrackerError

        raise TrackerError('Nothing to check: give the text (`tracker claim check "…"`) or '
                           "a file (`--file draft.md`)")
    searcher = searcher or open_searcher(engine, settings)
    vectors = _embed_chunks(searcher, _chunks(text))
    with session_scope(engine) as session:
        live = store.list_claims(session=session, reader=reader)
        counts = store.count_links(session=session, claim_ids=[c.id or 0 for c in live])
        closest = _closest_claims(session, searcher, live, text, vectors, limit)
    related, _ = check_candidates(searcher, text, limit, vectors=vectors)
    info = searcher.catalog.passages(r.passage_id for r in related)
    with session_scope(engine) as session:
        documents = store.document_refs(session=session, document_ids=[r.document_id
                                                                         for r in related])
        links = store.linked_claims(session=session, reader=reader,
                                    passage_ids=[r.passage_id for r in related])
        by_id = {c.id: c for c in live}
        linked = {pid: [(link, by_id[link.claim_id]) for link in found
                        if link.claim_id in by_id] for pid, found in links.items()}
    return CheckReport(
        claims=[(by_id[cid], score, counts[cid]) for cid, score in closest],
        passages=[(r.passage_id, r.score) for r in related], info=info, documents=documents,
        linked=linked, vectors=vectors is not None,
    )


def check_candidates(searcher: HybridSearcher, text: str, limit: int, *,
                     vectors: Vectors | None = None) -> tuple[list[Related], bool]:
    """Passages nearest a text, one per document, and whether vector search took part."""
    from tracker.index.suggest import related_passages

    chunks = _chunks(text)
    if vectors is None:
        vectors = _embed_chunks(searcher, chunks)
    if vectors is None:
        return _keyword_passages(searcher, text, limit), False
    return related_passages(searcher, chunks, vectors, limit), True


def _embed_chunks(searcher: HybridSearcher, chunks: list[str]) -> Vectors | None:
    if not searcher.has_vectors or searcher.embedder is None:
        return None
    return searcher.embedder.embed_batch(chunks)


def _chunks(text: str) -> list[str]:
    words = text.split()
    return [" ".join(words[i : i + _CHECK_CHUNK_WORDS])
            for i in range(0, len(words), _CHECK_CHUNK_WORDS)][:50]


def _closest_claims(session: Session, searcher: HybridSearcher, live: list[Claim], text: str,
                    vectors: Vectors | None, limit: int) -> list[tuple[int, float]]:
    """Claims by embedding (their wording and confirmed passages), else by shared words."""
    from tracker.index.suggest import closest_claims

    if not live:
        return []
    if vectors is None or searcher.embedder is None:
        from rapidfuzz import fuzz

        scored = [(c.id or 0, fuzz.token_set_ratio(text.lower(), c.text.lower()) / 100)
                  for c in live]
        return sorted(scored, key=lambda pair: -pair[1])[:limit]
    own = searcher.embedder.embed_batch([c.text for c in live])
    groups: dict[int, list[Vectors]] = {c.id or 0: [own[i]] for i, c in enumerate(live)}
    for claim in live:
        labels = store.labels(session=session, claim_id=claim.id or 0)
        passages = [labels.passages[link.id or 0] for link in labels.confirmed
                    if (link.id or 0) in labels.passages]
        if passages and searcher.vectors is not None:
            groups[claim.id or 0] += list(searcher.vectors.get(passages).values())
    return closest_claims(vectors, groups, limit)


def _keyword_passages(searcher: HybridSearcher, text: str, limit: int) -> list[Related]:
    from tracker.index.base import SearchFilters
    from tracker.index.suggest import Related

    hits = searcher.keyword_hits(text, SearchFilters())
    seen: dict[int, Related] = {}
    for rank, hit in enumerate(hits, start=1):
        seen.setdefault(hit.document_id, Related(hit.passage_id, hit.document_id, 1 / (10 + rank)))
    return list(seen.values())[:limit]
