"""The store: every SQL statement about documents, links, sync state, passages and claims.

`from tracker import store` and `store.get_document(session=…, ref=…)` is the one way in;
the modules below group the SQL by family. Functions take a keyword-only `session`; the
engine and sessions come from `tracker.store.engine`.

- `documents`: upsert with revisions, authors, tags, aliases, links (resolved both ways)
- `reading`: look-ups by any reference, threads, citations both ways
- `syncstate`: cursors, runs, per-source status, deletions
- `crossposts`: one work posted twice recorded as one
- `passages`: documents split into passages, and which model embedded them
- `claims`, `claimlinks`, `anchors`: claims, their links to passages, quotes that follow edits
- `readers`: the readers sharing a store, and which claims each sees
- `migrate`: the schema's Alembic revisions, run when a store is opened
- `engine`: the SQLAlchemy engine (SQLite WAL or PostgreSQL) and `session_scope`
"""

from __future__ import annotations

from tracker.store.arguments import ThreadFacts, citing_documents, stance_labels, thread_facts
from tracker.store.claimlinks import (
    Reanchored,
    accept_link,
    anchor_quote,
    claim_links,
    document_refs,
    get_link,
    labels,
    linked_claims,
    passage_at,
    reanchor_links,
    reject_link,
    revision_dates,
    save_suggestions,
    tag,
)
from tracker.store.claims import (
    MAX_CLAIM_CHARS,
    STANCES,
    STATUSES,
    DocumentRef,
    Labels,
    Suggested,
    add_claim,
    clean_claim_text,
    count_links,
    delete_claim,
    edit_claim,
    get_claim,
    list_claims,
    merge_claims,
    owned_claim,
    share_claim,
)
from tracker.store.crossposts import same_work
from tracker.store.documents import UpsertCounts, content_hash, upsert_documents
from tracker.store.readers import (
    DEFAULT_READER,
    add_reader,
    check_reader,
    issue_token,
    list_readers,
    reader_for_token,
    revoke_token,
    visible_claims,
)
from tracker.store.reading import (
    LinkRow,
    author_names,
    count_documents,
    document_authors,
    document_tags,
    get_document,
    get_revisions,
    get_thread,
    incoming_links,
    outgoing_links,
    to_public,
)
from tracker.store.sql import bounded_key
from tracker.store.syncstate import (
    SourceStatus,
    count_by_source,
    delete_cursor,
    finish_run,
    get_cursor,
    mark_missing_deleted,
    save_cursor,
    source_status,
    start_run,
)
from tracker.store.tags import MAX_TAG_CHARS, add_tags, reader_tags, remove_tags, visible_tags

__all__ = [
    "ThreadFacts",
    "citing_documents",
    "stance_labels",
    "thread_facts",
    "MAX_CLAIM_CHARS", "STANCES", "STATUSES", "DocumentRef", "Labels", "LinkRow", "Reanchored",
    "SourceStatus", "Suggested", "UpsertCounts", "accept_link", "add_claim", "anchor_quote",
    "author_names", "bounded_key", "claim_links", "clean_claim_text", "content_hash",
    "count_by_source", "count_documents", "count_links", "delete_claim", "delete_cursor",
    "document_authors", "document_refs", "document_tags", "edit_claim", "finish_run",
    "get_claim", "get_cursor", "get_document", "get_link", "get_revisions", "get_thread",
    "incoming_links", "labels", "linked_claims", "list_claims", "mark_missing_deleted",
    "merge_claims", "outgoing_links", "passage_at", "reanchor_links", "reject_link",
    "revision_dates", "same_work", "save_cursor", "save_suggestions", "source_status",
    "start_run", "tag", "to_public", "upsert_documents",
    "DEFAULT_READER", "add_reader", "check_reader", "issue_token", "list_readers",
    "reader_for_token", "revoke_token", "owned_claim", "share_claim",
    "visible_claims", "MAX_TAG_CHARS", "add_tags", "reader_tags", "remove_tags", "visible_tags",
]
