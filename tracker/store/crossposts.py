"""Cross-posts: one work posted twice (a blog entry and its forum copy) is recorded as one."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_
from sqlalchemy import select as sql_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from tracker.models import (
    Author,
    CrossPost,
    Document,
    DocumentAlias,
    DocumentAuthor,
    DocumentCreate,
    Link,
    utcnow,
)
from tracker.store.sql import chunks

# author-name token within _SAME_WORK_DAYS; or a long title alone within _TITLE_ONLY_DAYS.
_SAME_WORK_DAYS = 7
_TITLE_ONLY_DAYS = 3
_TITLE_ONLY_WORDS = 5
_WORK_KINDS = ("post", "entry")
_TITLE_PREFIX = re.compile(r"^\W*(?:cross-?post(?:ed)?|link ?post)\b\W*", re.IGNORECASE)


@dataclass
class _Work:
    """What cross-post matching needs to know of one post or entry."""

    id: int
    kind: str
    source: str
    title: str
    posted_at: datetime | None
    authors: set[str]
    names: tuple[str, ...] = ()
    """Author names not yet split into `authors` tokens (done only for a title match: an
    import writes thousands of posts a batch and almost none match)."""

    def author_tokens(self) -> set[str]:
        """The name tokens of every author."""
        if self.names:
            self.authors |= _name_tokens(self.names)
            self.names = ()
        return self.authors


def same_work(*, session: Session, document_id: int) -> list[tuple[Document, str]]:
    """The other stored copies of a document's work, with why they are the same."""
    seen, queue, found = {document_id}, [document_id], []
    while queue:
        current = queue.pop()
        stmt = select(CrossPost).where(
            or_(col(CrossPost.document_id) == current, col(CrossPost.same_as_id) == current)
        )
        for row in session.exec(stmt):
            other = row.same_as_id if row.document_id == current else row.document_id
            if other not in seen:
                seen.add(other)
                queue.append(other)
                document = session.get(Document, other)
                if document is not None:
                    found.append((document, row.reason))
    return found


def link_crossposts(session: Session, attached: Sequence[tuple[int, DocumentCreate]]) -> None:
    """Record which documents just written are copies of a stored one, or have one."""
    written = {doc_id: _work_of(doc_id, doc) for doc_id, doc in attached
               if doc.kind in _WORK_KINDS}
    if not written:
        return
    pairs = _pairs_by_link_url(session, attached)
    pairs += _pairs_by_body_link(session, written)
    pairs += _pairs_by_title(session, written)
    for first, second, reason in pairs:
        _record_copy(session, first, second, reason)


def _work_of(doc_id: int, doc: DocumentCreate) -> _Work:
    return _Work(doc_id, doc.kind, doc.source, doc.title, _aware(doc.posted_at), set(),
                 tuple(a.name for a in doc.authors))


def _pairs_by_link_url(
    session: Session, attached: Sequence[tuple[int, DocumentCreate]]
) -> list[tuple[_Work, _Work, str]]:
    """Forum link posts whose `link_url` is a feed entry's URL."""
    from tracker.ingest.links import url_key

    entries = {_url_identity(d.url): i for i, d in attached if d.kind == "entry" and d.url}
    posts = {_url_identity(d.link_url): i for i, d in attached if d.kind == "post" and d.link_url}
    found: list[tuple[int, int]] = []
    if entries:
        link_posts = select(Document.id, Document.link_url).where(
            col(Document.kind) == "post", col(Document.link_url).is_not(None))
        found += [(entries[ident], post_id) for post_id, link_url in session.execute(link_posts)
                  if post_id is not None and link_url
                  and (ident := _url_identity(link_url)) in entries]
    if posts:
        keys = [url_key(f"{scheme}://{ident}") for ident in posts for scheme in ("http", "https")]
        for chunk in chunks(keys):
            stmt = select(DocumentAlias.key, Document.id).join(
                Document, col(Document.id) == col(DocumentAlias.document_id)
            ).where(col(DocumentAlias.key).in_(chunk), col(Document.kind) == "entry")
            found += [(posts[_url_identity(key.removeprefix("url:"))], entry_id)
                      for key, entry_id in session.execute(stmt)]
    works = _works(session, {i for pair in found for i in pair})
    return [(works[a], works[b], "link_url") for a, b in found if a in works and b in works]


def _pairs_by_body_link(
    session: Session, written: Mapping[int, _Work]
) -> list[tuple[_Work, _Work, str]]:
    """A post and an entry with the same title where one links to the other."""
    found: set[tuple[int, int]] = set()
    # Only links with a feed entry at one end can pair (`_may_pair`): filtered here, by the
    # two primary keys, rather than loading both works of every resolved citation (an import
    # batch of 2,000 forum posts has thousands, none of them with an entry).
    citing, cited = aliased(Document), aliased(Document)
    for chunk in chunks(list(written)):
        stmt = (
            sql_select(col(Link.document_id), col(Link.target_document_id))
            .join(citing, col(citing.id) == col(Link.document_id))
            .join(cited, col(cited.id) == col(Link.target_document_id))
            .where(or_(col(Link.document_id).in_(chunk), col(Link.target_document_id).in_(chunk)),
                   or_(col(citing.kind) == "entry", col(cited.kind) == "entry"))
        )
        found.update((a, b) for a, b in session.execute(stmt) if b is not None and a != b)
    works = _works(session, {i for pair in found for i in pair})
    return [(works[a], works[b], "link+title") for a, b in found
            if a in works and b in works and _may_pair(works[a], works[b])
            and _title_key(works[a].title) == _title_key(works[b].title)]


def _pairs_by_title(
    session: Session, written: Mapping[int, _Work]
) -> list[tuple[_Work, _Work, str]]:
    """Same normalised title, close in time, and a shared author (or a long title)."""
    dates = [w.posted_at for w in written.values() if w.posted_at is not None]
    if not dates:
        return []
    kinds = _WORK_KINDS if any(w.kind == "entry" for w in written.values()) else ("entry",)
    span = timedelta(days=_SAME_WORK_DAYS)
    stmt = select(Document.id, Document.title).where(
        col(Document.kind).in_(kinds), col(Document.deleted).is_(False),
        col(Document.posted_at) >= min(dates) - span, col(Document.posted_at) <= max(dates) + span,
    )
    by_title: dict[str, list[int]] = {}
    for doc_id, title in session.execute(stmt):
        by_title.setdefault(_title_key(title), []).append(doc_id)
    if not by_title:  # an import batch of forum posts and no feed entry near their dates
        return []
    wanted = {w.id: by_title.get(_title_key(w.title), []) for w in written.values()}
    works = _works(session, {i for ids in wanted.values() for i in ids})
    pairs = []
    for work_id, candidates in wanted.items():
        for other in (works[i] for i in candidates if i in works and i != work_id):
            reason = _title_match(written[work_id], other)
            if reason is not None:
                pairs.append((written[work_id], other, reason))
    return pairs


def _title_match(a: _Work, b: _Work) -> str | None:
    if not _may_pair(a, b) or a.posted_at is None or b.posted_at is None:
        return None
    apart = abs(a.posted_at - b.posted_at)
    if apart <= timedelta(days=_SAME_WORK_DAYS) and a.author_tokens() & b.author_tokens():
        return "title+author"
    if apart <= timedelta(days=_TITLE_ONLY_DAYS) and len(
        _title_key(a.title).split()
    ) >= _TITLE_ONLY_WORDS:
        return "title+date"
    return None


def _may_pair(a: _Work, b: _Work) -> bool:
    """Copies of one work live in different sources, and one of them is a feed entry."""
    return (a.id != b.id and a.source != b.source and "entry" in (a.kind, b.kind)
            and a.kind in _WORK_KINDS and b.kind in _WORK_KINDS and bool(_title_key(a.title)))


def _works(session: Session, ids: Iterable[int]) -> dict[int, _Work]:
    found: dict[int, _Work] = {}
    for chunk in chunks(list(ids)):
        stmt = sql_select(col(Document.id), col(Document.kind), col(Document.source),
                          col(Document.title), col(Document.posted_at)).where(
            col(Document.id).in_(chunk))
        for doc_id, kind, source, title, posted_at in session.execute(stmt):
            found[doc_id] = _Work(doc_id, kind, source, title, _aware(posted_at), set())
        names = (
            select(DocumentAuthor.document_id, Author.name)
            .join(Author, col(Author.id) == col(DocumentAuthor.author_id))
            .where(col(DocumentAuthor.document_id).in_(chunk))
        )
        for doc_id, name in session.execute(names):
            found[doc_id].authors |= _name_tokens([name])
    return found


def _record_copy(session: Session, a: _Work, b: _Work, reason: str) -> None:
    """Mark the entry (or the later entry) as a copy of the forum post (or the first one)."""
    copy, canonical = sorted((a, b), key=lambda w: (w.kind != "post", w.id))[::-1]
    if session.get(CrossPost, copy.id) is not None:
        return
    upstream = session.get(CrossPost, canonical.id)
    if upstream is not None and upstream.same_as_id == copy.id:
        return
    target = upstream.same_as_id if upstream is not None else canonical.id
    session.add(CrossPost(document_id=copy.id, same_as_id=target, reason=reason,
                          recorded_at=utcnow()))
    session.flush()


def _title_key(title: str) -> str:
    """A title lower-cased, without punctuation or a "Crosspost:" prefix."""
    title = _TITLE_PREFIX.sub("", title)
    return " ".join(re.sub(r"[^\w\s]", "", title.lower()).split())


def _name_tokens(names: Iterable[str]) -> set[str]:
    """Name parts of 3+ letters and the whole name run together ("Holden Karnofsky" and
    "HoldenKarnofsky" share "holdenkarnofsky"; "Zvi" and "Zvi Mowshowitz" share "zvi")."""
    tokens: set[str] = set()
    for name in names:
        parts = re.findall(r"[a-z0-9]+", name.lower())
        tokens.update(p for p in parts if len(p) >= 3)
        if parts:
            tokens.add("".join(parts))
    return tokens


def _url_identity(url: str) -> str:
    """A URL's `url:` key without its scheme (http and https copies are one page)."""
    from tracker.ingest.links import url_key

    return url_key(url).removeprefix("url:").split("://", 1)[-1]


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
