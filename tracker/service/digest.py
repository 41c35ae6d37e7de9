"""The weekly digest: what is new and relevant to the user's interests in one ISO week.

Building is deterministic: the same store and week give the same items in the same order,
and the rendered files contain no build time, so a rebuild is byte-identical. Items shown in
an earlier week's digest (the `Digest` rows) are not shown again.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from tracker import store
from tracker.errors import ConfigError
from tracker.models import DEFAULT_READER, ClaimLink, CrossPost, Digest, Document, Link, utcnow
from tracker.service import interests
from tracker.service.interests import Topic
from tracker.servicesettings import DigestSettings

_EXTRACT_CHARS = 400  # one paragraph: about three lines of a mail client
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_WORD = re.compile(r"[\w'-]+")


@dataclass
class Item:
    """One document in the digest, with why it is there."""

    id: int
    kind: str
    source: str
    title: str
    url: str
    authors: str
    posted: str
    score: float | None
    comments: int | None
    extract: str
    why: str


@dataclass
class Section:
    """A heading and its items."""

    title: str
    items: list[Item] = field(default_factory=list)


@dataclass
class WeeklyDigest:
    """A built digest, ready to render."""

    week: str
    start: datetime
    end: datetime
    timezone: str
    sections: list[Section]
    reader: str = DEFAULT_READER
    """Whose follows it holds."""

    @property
    def item_ids(self) -> list[int]:
        """Every document shown, in order."""
        return [item.id for section in self.sections for item in section.items]

    @property
    def first_day(self) -> str:
        """The Monday of the week, `YYYY-MM-DD`."""
        return f"{self.start.astimezone(ZoneInfo(self.timezone)):%Y-%m-%d}"

    @property
    def last_day(self) -> str:
        """The Sunday of the week, `YYYY-MM-DD`."""
        return f"{self.end.astimezone(ZoneInfo(self.timezone)) - timedelta(days=1):%Y-%m-%d}"

    @property
    def subject(self) -> str:
        """The e-mail subject and feed entry title."""
        return f"tracker digest {self.week}: {len(self.item_ids)} items"


# --- weeks -----------------------------------------------------------------------------------


def parse_week(week: str) -> tuple[int, int]:
    """`YYYY-Www` as (year, week), or a ConfigError naming it."""
    match = _WEEK.fullmatch(week.strip())
    if match:
        year, number = int(match[1]), int(match[2])
        try:
            date.fromisocalendar(year, number, 1)
            return year, number
        except ValueError:
            pass
    raise ConfigError(f"'{week}' is not an ISO week; give YYYY-Www, e.g. 2026-W07")


def week_bounds(week: str, timezone: str) -> tuple[datetime, datetime]:
    """Monday 00:00 of the week and of the next one, in `timezone`, as UTC."""
    year, number = parse_week(week)
    zone = ZoneInfo(timezone)
    start = datetime.combine(date.fromisocalendar(year, number, 1), time(0), zone)
    end = datetime.combine(date.fromisocalendar(year, number, 1) + timedelta(days=7), time(0),
                           zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def previous_week(now: datetime, timezone: str) -> str:
    """The last complete ISO week before `now` in `timezone`."""
    year, number, _ = (now.astimezone(ZoneInfo(timezone)) - timedelta(days=7)).isocalendar()
    return f"{year}-W{number:02d}"


# --- building --------------------------------------------------------------------------------


def build_digest(*, session: Session, settings: DigestSettings, week: str,
                 reader: str = DEFAULT_READER) -> WeeklyDigest:
    """Collect the week's items per interest of `reader`, the most-discussed threads and newly
    relevant older documents; nothing appears twice, nothing from an earlier digest of theirs
    appears again."""
    start, end = week_bounds(week, settings.timezone)
    hidden = _shown_before(session, week, reader) | _copies(session)
    fresh = [d for d in _posted_between(session, start, end) if d.id not in hidden]
    topics = interests.all_topics(session=session, implicit=settings.implicit_interests,
                                  reader=reader)
    builder = _Builder(session, settings, hidden)
    sections = []
    for topic in topics:
        for heading, ranked in _topic_sections(session, topic, fresh, start, end, reader):
            section = builder.section(heading, ranked, settings.per_interest)
            if section.items:
                sections.append(section)
    discussed = builder.section("Most discussed threads",
                                _most_discussed(session, fresh, hidden), settings.most_discussed)
    relevant = builder.section("Older items that became relevant",
                               _newly_relevant(session, topics, fresh, start, settings,
                                               reader),
                               settings.per_interest)
    sections += [s for s in (discussed, relevant) if s.items]
    return WeeklyDigest(week, start, end, settings.timezone, sections, reader)


_Candidate = tuple[float, Document, str, str]
"""relevance, the document, why it is there, the extract ("" for the default one)."""


class _Builder:
    """Turns ranked candidates into items, never showing one document twice."""

    def __init__(self, session: Session, settings: DigestSettings, hidden: set[int]) -> None:
        self.session, self.settings, self.used = session, settings, set(hidden)

    def section(self, title: str, candidates: list[_Candidate], limit: int) -> Section:
        section = Section(title)
        ranked = sorted(candidates, key=lambda c: (-c[0], -(c[1].score or 0),
                                                   -(c[1].comment_count or 0), c[1].id or 0))
        for _, doc, why, extract in ranked:
            if len(section.items) >= limit:
                break
            if doc.id is None or doc.id in self.used:
                continue
            self.used.add(doc.id)
            section.items.append(self._item(doc, why, extract))
        return section

    def _item(self, doc: Document, why: str, extract: str) -> Item:
        assert doc.id is not None
        authors = ", ".join(a.name for a in store.document_authors(session=self.session,
                                                                   document_id=doc.id))
        return Item(
            id=doc.id, kind=doc.kind, source=doc.source, title=_title(self.session, doc),
            url=doc.url or "", authors=authors,
            posted=f"{doc.posted_at:%Y-%m-%d}" if doc.posted_at else "",
            score=doc.score, comments=doc.comment_count,
            extract=extract or extract_paragraph(doc.body_text, ()), why=why,
        )


def _heading(session: Session, topic: Topic) -> str:
    label = topic.label
    if topic.kind == "claim":
        from tracker.models import Claim

        claim = session.get(Claim, int(topic.value))
        label = f"Claim {topic.value}: {claim.text}" if claim else label
    return label + (" (from your reading and tagging)" if topic.implicit else "")


def _shown_before(session: Session, week: str, reader: str) -> set[int]:
    rows = session.exec(select(Digest).where(col(Digest.week) < week,
                                             col(Digest.reader) == reader)).all()
    return {i for row in rows for i in row.item_ids}


def _copies(session: Session) -> set[int]:
    return set(session.exec(select(CrossPost.document_id)).all())


def _posted_between(session: Session, start: datetime, end: datetime) -> list[Document]:
    rows = session.exec(select(Document).where(
        col(Document.posted_at) >= start, col(Document.posted_at) < end,
        col(Document.deleted) == False,  # noqa: E712
    ).order_by(col(Document.id))).all()
    return list(rows)


_SIDES = (("supports", "arguments for"), ("opposes", "arguments against"),
          ("mentions", "mentions"))


def _topic_sections(session: Session, topic: Topic, fresh: list[Document], start: datetime,
                    end: datetime, reader: str) -> list[tuple[str, list[_Candidate]]]:
    """(heading, candidates) per section of a topic: a followed claim gets one per side."""
    heading = _heading(session, topic)
    if topic.kind != "claim":
        return [(heading, _rank_topic(session, topic, fresh, start, end, reader))]
    found = _claim_arguments(session, int(topic.value), start, end)
    # the why line starts with the stance's words ("argues against claim 3 …")
    return [(f"{heading} — {words}", [c for c in found if c[2].startswith(_STANCE_WORDS[stance])])
            for stance, words in _SIDES]


def _rank_topic(session: Session, topic: Topic, fresh: list[Document], start: datetime,
                end: datetime, reader: str) -> list[_Candidate]:
    if topic.kind == "search":
        return _keyword_matches(topic.value, fresh)
    if topic.kind == "claim":
        return _claim_arguments(session, int(topic.value), start, end)
    if topic.kind == "author":
        ids = interests.documents_by_author(
            session=session, ids=interests.author_ids(session=session, value=topic.value))
        why = f"by {topic.value}"
    elif topic.kind == "tag":
        ids = interests.documents_by_tag(session=session, name=topic.value, reader=reader)
        why = f"tagged {topic.value}"
    else:
        ids = {d.id for d in fresh if d.id is not None and d.source == topic.value.lower()}
        why = f"new on {topic.value}"
    return [(1.0, d, why + (" (from your reading and tagging)" if topic.implicit else ""), "")
            for d in fresh if d.id in ids]


def query_terms(query: str) -> list[str]:
    """The words of a saved search, lower-cased, without one-letter words."""
    return [w for w in dict.fromkeys(_WORD.findall(query.lower())) if len(w) > 1]


def _keyword_matches(query: str, fresh: list[Document]) -> list[_Candidate]:
    """Documents containing every word of the query; title hits count three times.

    A plain keyword match: deterministic and needing no index (the hybrid search ranks by
    the vector index, which changes as `tracker index` runs)."""
    terms = query_terms(query)
    if not terms:
        return []
    found: list[_Candidate] = []
    for doc in fresh:
        title, body = _counts(doc.title, terms), _counts(doc.body_text, terms)
        if all(title[t] + body[t] for t in terms):
            relevance = sum(3 * title[t] + body[t] for t in terms)
            found.append((float(relevance), doc, f"matches your search “{query}”",
                          extract_paragraph(doc.body_text, terms)))
    return found


def _counts(text: str, terms: list[str]) -> Counter[str]:
    words = Counter(_WORD.findall(text.lower()))
    return Counter({t: words[t] for t in terms})


_STANCE_WORDS = {"supports": "argues for", "opposes": "argues against", "mentions": "mentions"}


def _claim_arguments(session: Session, claim_id: int, start: datetime,
                     end: datetime) -> list[_Candidate]:
    """Passages linked to the claim this week (by the user or accepted suggestions)."""
    links = session.exec(select(ClaimLink).where(
        col(ClaimLink.claim_id) == claim_id, col(ClaimLink.created_at) >= start,
        col(ClaimLink.created_at) < end,
        col(ClaimLink.status).in_(["confirmed", "suggested"]),
    ).order_by(col(ClaimLink.id))).all()
    found: list[_Candidate] = []
    words = _STANCE_WORDS
    for link in links:
        doc = session.get(Document, link.document_id)
        if doc is None or doc.deleted:
            continue
        stance = words.get(link.stance, link.stance)
        origin = "" if link.status == "confirmed" else " (suggested, not yet confirmed)"
        relevance = 2.0 if link.stance in ("supports", "opposes") else 1.0
        found.append((relevance, doc, f"{stance} claim {claim_id}{origin}",
                      _shorten(" ".join(link.quote.split()))))
    return found


def _most_discussed(session: Session, fresh: list[Document],
                    hidden: set[int]) -> list[_Candidate]:
    """Posts by the number of their comments posted this week."""
    counts = Counter((d.source, d.post_id) for d in fresh if d.kind == "comment" and d.post_id)
    found: list[_Candidate] = []
    for (source, post_id), n in counts.items():
        post = session.exec(select(Document).where(col(Document.source) == source,
                                                   col(Document.native_id) == post_id)).first()
        if post is not None and post.id not in hidden and not post.deleted:
            found.append((float(n), post, f"{n} new comment{'s' * (n != 1)} this week", ""))
    return found


def _newly_relevant(session: Session, topics: list[Topic], fresh: list[Document],
                    start: datetime, settings: DigestSettings, reader: str) -> list[_Candidate]:
    """Older documents you tagged or follow that a document of this week cites."""
    cared = _cared_for(session, topics, settings, reader)
    fresh_by_id = {d.id: d for d in fresh}
    if not fresh_by_id or not cared:
        return []
    links = session.exec(select(Link).where(
        col(Link.document_id).in_(list(fresh_by_id)),
        col(Link.target_document_id).in_(list(cared)),
    ).order_by(col(Link.id))).all()
    found: list[_Candidate] = []
    citing: dict[int, list[str]] = {}
    for link in links:
        assert link.target_document_id is not None
        citing.setdefault(link.target_document_id, []).append(
            _title(session, fresh_by_id[link.document_id]))
    for target_id, titles in sorted(citing.items()):
        doc = session.get(Document, target_id)
        if doc is None or doc.deleted or (doc.posted_at and doc.posted_at >= start):
            continue
        names = "; ".join(dict.fromkeys(titles))
        found.append((float(len(titles)), doc, f"newly cited by {names}", ""))
    return found


def _cared_for(session: Session, topics: list[Topic], settings: DigestSettings,
               reader: str) -> set[int]:
    """Documents the reader tagged, or that belong to a followed author, tag or claim."""
    cared = interests.tagged_document_ids(session=session, reader=reader) \
        if settings.implicit_interests else set()
    for topic in topics:
        if topic.kind == "author":
            cared |= interests.documents_by_author(
                session=session, ids=interests.author_ids(session=session, value=topic.value))
        elif topic.kind == "tag":
            cared |= interests.documents_by_tag(session=session, name=topic.value,
                                                reader=reader)
        elif topic.kind == "claim":
            cared |= set(session.exec(select(ClaimLink.document_id).where(
                col(ClaimLink.claim_id) == int(topic.value),
                col(ClaimLink.status) == "confirmed")).all())
    return cared


def _title(session: Session, doc: Document) -> str:
    if doc.title or doc.kind != "comment" or not doc.post_id:
        return doc.title or f"{doc.source}:{doc.native_id}"
    post = session.exec(select(Document).where(col(Document.source) == doc.source,
                                               col(Document.native_id) == doc.post_id)).first()
    return f"Comment on {post.title}" if post and post.title else "Comment"


def extract_paragraph(text: str, terms: tuple[str, ...] | list[str]) -> str:
    """One paragraph of `text`: the one with most query words, else the first substantial one."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    paragraphs = [p for p in paragraphs if p]
    if not paragraphs:
        return ""
    if terms:
        best = max(paragraphs, key=lambda p: sum(_counts(p, list(terms)).values()))
    else:
        best = next((p for p in paragraphs if len(p) >= 80), paragraphs[0])
    return _shorten(best)


def _shorten(text: str) -> str:
    if len(text) <= _EXTRACT_CHARS:
        return text
    cut = text[:_EXTRACT_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


# --- saving ----------------------------------------------------------------------------------


def record_digest(*, session: Session, digest: WeeklyDigest) -> Digest:
    """Save which documents the week's digest showed (a rebuild keeps the first build time)."""
    row = session.get(Digest, (digest.reader, digest.week))
    if row is None:
        row = Digest(reader=digest.reader, week=digest.week, created_at=utcnow(),
                     item_ids=digest.item_ids)
        session.add(row)
    elif row.item_ids != digest.item_ids:
        row.item_ids = digest.item_ids
        session.add(row)
    session.flush()
    return row
