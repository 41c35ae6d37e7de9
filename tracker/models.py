"""The data model: one schema for SQLite and PostgreSQL (see DESIGN.md, "Data model")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import JSON, Column, DateTime, Index, Text, TypeDecorator, UniqueConstraint, text
from sqlalchemy import false as sa_false
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

DocumentKind = Literal["post", "comment", "paper", "entry"]
LinkKind = Literal["post", "comment", "arxiv", "doi", "external"]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(*, index: bool = False, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


# --- what sources yield ------------------------------------------------------------------


class AuthorCreate(SQLModel):
    """An author as a source names them; `slug` is the forum's user slug when there is one."""

    name: str
    slug: str | None = None


class LinkCreate(SQLModel):
    """A citation found in a body: where it points and how to recognise the target."""

    url: str
    kind: str
    target_key: str | None = None
    anchor_text: str = ""
    context: str = ""
    """The sentence of the body the link sits in (anchor text as a search field of the target)."""


class DocumentBase(SQLModel):
    """Fields shared by what a source yields, the table row and the public view."""

    source: str = Field(max_length=64)
    native_id: str = Field(max_length=255)
    kind: str = Field(max_length=16)
    url: str | None = None
    title: str = ""
    posted_at: datetime | None = None
    modified_at: datetime | None = None
    score: float | None = None
    vote_count: int | None = None
    comment_count: int | None = None
    af: bool = False
    question: bool = False
    link_url: str | None = None
    post_id: str | None = Field(default=None, max_length=255)
    """Native id of the post a comment belongs to (same source)."""
    parent_id: str | None = Field(default=None, max_length=255)
    """Native id of the comment (or answer) a reply answers; None for a top-level comment."""
    deleted: bool = False


class DocumentCreate(DocumentBase):
    """A document as a source yields it, with its authors, tags, aliases and citations."""

    body_html: str | None = None
    body_text: str = ""
    authors: list[AuthorCreate] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    """Keys a link can name this document by (`lw:<id>`, `lw-slug:<slug>`, `arxiv:<id>`, …)."""
    links: list[LinkCreate] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)
    """Source-specific metadata (arXiv categories, DOI, forum slug, …)."""


class DocumentPublic(DocumentBase):
    """A document as `--json` output shows it."""

    id: int
    authors: list[AuthorCreate]
    tags: list[str]
    body_text: str
    content_hash: str
    fetched_at: datetime | None
    extra: dict[str, Any]


# --- tables --------------------------------------------------------------------------------


class Document(DocumentBase, table=True):
    """One post, comment, paper or blog entry. A LW post that is also on AF is one row."""

    __table_args__ = (
        UniqueConstraint("source", "native_id", name="uq_document_source_native"),
        Index("ix_document_thread", "source", "post_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    posted_at: datetime | None = _ts(index=True)
    modified_at: datetime | None = _ts()
    body_html: str | None = Field(default=None, sa_column=Column(Text))
    body_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    content_hash: str = Field(default="", max_length=64)
    fetched_at: datetime | None = _ts()
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Author(SQLModel, table=True):
    """A person, keyed by forum slug when known, else by name."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)
    name: str
    slug: str | None = None


class DocumentAuthor(SQLModel, table=True):
    """Authorship, in byline order."""

    document_id: int = Field(foreign_key="document.id", primary_key=True, ondelete="CASCADE")
    position: int = Field(primary_key=True)
    author_id: int = Field(foreign_key="author.id", index=True)


_FORUM, _OWN = text("kind = 'forum'"), text("kind = 'user'")


class Tag(SQLModel, table=True):
    """A forum tag (`kind='forum'`, shared) or a reader's own tag (`kind='user'`, `reader`)."""

    # Partial unique indexes: a forum tag's name is unique (sync inserts it ignoring clashes),
    # a user tag's name is unique per reader, so two readers may each own a tag `mine`.
    __table_args__ = (
        Index("uq_tag_forum_name", "name", unique=True, sqlite_where=_FORUM,
              postgresql_where=_FORUM),
        Index("uq_tag_user_reader_name", "reader", "name", unique=True, sqlite_where=_OWN,
              postgresql_where=_OWN),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str
    kind: str = Field(default="forum", max_length=16)
    reader: str | None = Field(default=None, max_length=64, foreign_key="reader.name")
    """The reader a user tag belongs to; None for a forum tag."""


class DocumentTag(SQLModel, table=True):
    """A tag on a document."""

    document_id: int = Field(foreign_key="document.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, index=True)


class DocumentAlias(SQLModel, table=True):
    """A key that links can resolve to this document by."""

    key: str = Field(primary_key=True, max_length=512)
    document_id: int = Field(foreign_key="document.id", index=True, ondelete="CASCADE")


class Revision(SQLModel, table=True):
    """A previous text of a document, kept when its content hash changed."""

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True, ondelete="CASCADE")
    content_hash: str = Field(max_length=64)
    title: str = ""
    body_html: str | None = Field(default=None, sa_column=Column(Text))
    body_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    modified_at: datetime | None = _ts()
    recorded_at: datetime | None = _ts()


class Link(SQLModel, table=True):
    """A citation edge from a document's body to a URL, resolved to a document when known."""

    __table_args__ = (
        Index("ix_link_target_key", "target_key"),
        Index("ix_link_target_document", "target_document_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True, ondelete="CASCADE")
    position: int = 0
    url: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(max_length=16)
    target_key: str | None = Field(default=None, max_length=512)
    anchor_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    target_document_id: int | None = Field(default=None, foreign_key="document.id")


class LinkContext(SQLModel, table=True):
    """The sentence around a link (`Link` at `position` of `document_id`), kept beside the link
    table so that stores made before it need no column added."""

    document_id: int = Field(foreign_key="document.id", primary_key=True, ondelete="CASCADE")
    position: int = Field(primary_key=True)
    sentence: str = Field(default="", sa_column=Column(Text, nullable=False))


class CrossPost(SQLModel, table=True):
    """A document that is another copy of the same work (a blog post cross-posted to a forum).

    `document_id` is the copy and `same_as_id` the copy shown in its place: the forum post
    when there is one, else the first one stored. Search shows each work once by skipping
    documents that have a row here.
    """

    document_id: int = Field(foreign_key="document.id", primary_key=True, ondelete="CASCADE")
    same_as_id: int = Field(foreign_key="document.id", index=True, ondelete="CASCADE")
    reason: str = Field(max_length=32)
    """link_url | link+title | title+author | title+date: what made them the same work."""
    recorded_at: datetime | None = _ts()


class SyncState(SQLModel, table=True):
    """A per-source cursor (or ETag), moved only after the rows it covers are committed."""

    source: str = Field(primary_key=True, max_length=64)
    stream: str = Field(primary_key=True, max_length=255)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime | None = _ts()


class SyncRun(SQLModel, table=True):
    """One sync of one source: when, what it did, and how it ended."""

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64, index=True)
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
    status: str = Field(default="running", max_length=16)
    """running | ok | failed | interrupted"""
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    retry_after: datetime | None = _ts()


# --- search index --------------------------------------------------------------------------


class Passage(SQLModel, table=True):
    """A span of a document's `body_text`: the unit that is embedded and searched.

    Rows are immutable: changed text gets a new row (and id), so a vector stored under a
    passage id always belongs to that text. Ids are never reused (AUTOINCREMENT on SQLite).
    """

    __table_args__ = (
        UniqueConstraint("document_id", "ordinal", name="uq_passage_document_ordinal"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True, ondelete="CASCADE")
    ordinal: int
    start: int
    """Offset of the first character in the document's `body_text`."""
    end: int
    """Offset just past the last character: `body_text[start:end] == text`."""
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    title: str = Field(default="", sa_column=Column(Text, nullable=False))
    """The document's title, or for a comment its post's title: context that counts for ranking."""
    authors: str = Field(default="", sa_column=Column(Text, nullable=False))
    """Author names and forum slugs, space-separated, so that keyword search finds them."""
    content_hash: str = Field(max_length=64, index=True)
    """Hash of title, authors and text: what an embedding was computed from."""


class PassageEmbedding(SQLModel, table=True):
    """A passage's vector exists in the vector index of `model` (committed after it is saved)."""

    passage_id: int = Field(foreign_key="passage.id", primary_key=True, ondelete="CASCADE")
    model: str = Field(primary_key=True, max_length=255, index=True)
    content_hash: str = Field(max_length=64)


class DocumentIndexState(SQLModel, table=True):
    """What a document's passages were built from; a different value means re-chunk it."""

    document_id: int = Field(foreign_key="document.id", primary_key=True, ondelete="CASCADE")
    state: str = Field(max_length=80)
    """`<content_hash>:<chunker version>`, or `deleted` when the document has no passages."""
    indexed_at: datetime | None = _ts()


# --- readers: who owns claims, labels, follows, digests and reading history -------------------

DEFAULT_READER = "default"
"""The reader a single-user store has, and whom rows from before readers belong to."""


def _owner(*, index: bool = False) -> Any:
    # A server default, so the migration that added the column gave every existing row to the
    # default reader, and a fresh store built from these models says the same.
    return Field(default=DEFAULT_READER, max_length=64, foreign_key="reader.name", index=index,
                 sa_column_kwargs={"server_default": DEFAULT_READER})


class Reader(SQLModel, table=True):
    """A person sharing the store: documents and the index are common, claims, labels, follows,
    digests and reading history are theirs (`tracker --user NAME`, `TRACKER_USER`)."""

    name: str = Field(primary_key=True, max_length=64)
    created_at: datetime | None = _ts()
    token_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)
    """SHA-256 (hex) of the reader's API token (`tracker reader token NAME`); never the token."""


# --- claims ----------------------------------------------------------------------------------

ClaimStance = Literal["supports", "opposes", "mentions"]
ClaimLinkStatus = Literal["confirmed", "rejected", "suggested", "stale"]


class Claim(SQLModel, table=True):
    """A statement people argue for or against; passages are linked to it by `ClaimLink`s."""

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()
    merged_into: int | None = Field(default=None, foreign_key="claim.id", index=True)
    """The claim this one was merged into (its links moved there); None while it is live."""
    owner: str = _owner(index=True)
    """The reader who made it; only they see it until it is shared."""
    shared: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    """Shared with the team: every reader sees it, tags it, and its labels train everyone."""


class ClaimLink(SQLModel, table=True):
    """A passage of a document anchored to a claim with a stance (W3C TextQuote + position).

    `start`/`end` index the document's `body_text` at revision `revision` (its content hash
    when anchored). A link whose quote left the text is `stale`: it keeps its old quote, span
    and revision until the user confirms it again; it is never moved or deleted silently.
    """

    __table_args__ = (Index("ix_claimlink_claim_status", "claim_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", ondelete="CASCADE")
    document_id: int = Field(foreign_key="document.id", index=True, ondelete="CASCADE")
    quote: str = Field(sa_column=Column(Text, nullable=False))
    start: int
    end: int
    prefix: str = Field(default="", sa_column=Column(Text, nullable=False))
    suffix: str = Field(default="", sa_column=Column(Text, nullable=False))
    revision: str = Field(default="", max_length=64)
    stance: str = Field(default="mentions", max_length=16)
    """supports | opposes | mentions"""
    origin: str = Field(default="user", max_length=16)
    """user | suggested: who proposed the link (a suggestion the user accepted stays `suggested`)"""
    status: str = Field(default="confirmed", max_length=16)
    """confirmed | rejected | suggested | stale"""
    note: str | None = Field(default=None, sa_column=Column(Text))
    passage_id: int | None = None
    """The passage the quote lies in when anchored (no foreign key: passages are replaced)."""
    score: float | None = None
    """The suggestion score, for links that came from `claim suggest`."""
    tagged_by: str = _owner()
    """The reader who tagged, accepted or rejected it (who tagged what, on a shared claim)."""
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


# --- interests and digests (tracker/interests.py, tracker/digest.py) -------------------------


class Interest(SQLModel, table=True):
    """Something the user follows: a saved search, an author, a tag, a claim or a source."""

    __table_args__ = (UniqueConstraint("reader", "kind", "value",
                                       name="uq_interest_reader_kind_value"),)

    id: int | None = Field(default=None, primary_key=True)
    reader: str = _owner()
    kind: str = Field(max_length=16)
    """search | author | tag | claim | source"""
    value: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime | None = _ts()


class Digest(SQLModel, table=True):
    """A weekly digest as built: which documents it showed, so later weeks do not repeat them."""

    reader: str = Field(default=DEFAULT_READER, max_length=64, foreign_key="reader.name",
                        primary_key=True)
    week: str = Field(primary_key=True, max_length=10)
    """ISO week, `YYYY-Www`."""
    created_at: datetime | None = _ts()
    item_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """Document ids shown, in order."""


class Reading(SQLModel, table=True):
    """A document the user opened (`tracker show`, the TUI): reading history, one row each."""

    reader: str = Field(default=DEFAULT_READER, max_length=64, foreign_key="reader.name",
                        primary_key=True)
    document_id: int = Field(foreign_key="document.id", primary_key=True, ondelete="CASCADE")
    times: int = 1
    first_read_at: datetime | None = _ts()
    last_read_at: datetime | None = _ts()
