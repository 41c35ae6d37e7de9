"""The embedded keyword index (tantivy) kept in step with the passages and the anchor evidence
of the store: built when missing, rebuilt when unreadable, updated by each `tracker index`.

Order of writes: the SQL rows come first (passages and links are committed before a sync
reads them), tantivy commits next, and the outbox rows it applied are deleted last, so an
interrupted sync resumes from the largest passage id tantivy committed and replays the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from tracker.errors import IndexBackendError
from tracker.index.tantivydocs import DocumentRow, DocumentWriter, TantivyDocumentIndex
from tracker.index.tantivyindex import (
    Horizon,
    KeywordRow,
    KeywordWriter,
    TantivyKeywordIndex,
    keyword_folder,
)
from tracker.store.engine import session_scope

log = logging.getLogger(__name__)

_PAGE = 2_000  # passages read per query
_CHECKPOINT = 100_000  # passages per tantivy commit while building: what a crash can lose


@dataclass
class KeywordSync:
    """What one sync of the keyword index did."""

    rebuilt: str = ""
    """Why the index was built from scratch ("" when it was updated)."""
    added: int = 0
    removed: int = 0
    anchors: int = 0
    """Documents whose anchor evidence was re-indexed."""
    documents: int = 0
    """Documents (re)indexed whole in the document index."""


def tantivy_index(engine: Engine) -> TantivyKeywordIndex:
    """The tantivy index beside the SQLite database of `engine`, or the replica of a
    PostgreSQL database in the data directory."""
    database = engine.url.database
    if engine.dialect.name == "postgresql":
        from tracker.index.backends import open_keyword_index

        replica = open_keyword_index(engine, kind="tantivy")
        assert isinstance(replica, TantivyKeywordIndex)
        return replica
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        raise IndexBackendError("The tantivy keyword index needs a SQLite database file")
    return TantivyKeywordIndex(engine, keyword_folder(Path(database)))


def sync_keywords(engine: Engine, *, rebuild: bool = False,
                  progress: Callable[[str, int, int], None] | None = None) -> KeywordSync:
    """Bring the tantivy index in step with the store (build it when missing or unreadable)."""
    index = tantivy_index(engine)
    index.ensure()
    report = KeywordSync()
    reason = "asked to" if rebuild else _unusable(index)
    horizon = index.horizon()  # on PostgreSQL: no id at or below it is still in flight
    if reason:
        if reason != "asked to":
            log.warning("The keyword index at %s is %s: rebuilding it from the store",
                        index.folder, reason)
        report.rebuilt = reason
        _rebuild(engine, index, horizon, report, progress)
        _searchable(report, progress)
        return report
    missing = _unusable(index.documents)
    if missing:
        log.warning("The document index at %s is %s: building it from the store",
                    index.documents.folder, missing)
        index.documents.create()
    while True:
        outbox = index.pending(upto=horizon.seq)
        writer = index.writer()
        try:
            after = index.max_passage_id()
            if outbox.last_seq:
                _apply(engine, writer, outbox.passage_ids, outbox.document_ids, after, report)
            _add_new(engine, writer, after, horizon.passage_id, report, progress)
            writer.commit()
        finally:
            writer.close()
        _update_documents(engine, index.documents, outbox.document_ids, horizon.passage_id,
                          report)
        if not outbox.last_seq:
            _searchable(report, progress)
            return report
        index.applied(outbox.last_seq)


def _searchable(report: KeywordSync, progress: Callable[[str, int, int], None] | None) -> None:
    """Say the phase is done only once the last page is committed: a search started on
    that news (the TUI's) must find what was added."""
    if progress is not None:
        progress("keywords", report.added, report.added)


def _update_documents(engine: Engine, documents: TantivyDocumentIndex,
                      changed: Sequence[int], upto: int | None, report: KeywordSync) -> None:
    """Re-index whole the documents that gained passages since the watermark and those the
    outbox names (passages deleted, anchors changed), committing every `_CHECKPOINT`
    passages' worth with the watermark reached."""
    from tracker.store.evidence import documents_after

    mark = documents.watermark()
    pending, since_commit, dirty = list(changed), 0, False
    writer = documents.writer()
    try:
        while True:
            with session_scope(engine) as session:
                grown, reached = documents_after(session=session, after=mark, limit=_PAGE,
                                                 upto=upto)
            todo = list(dict.fromkeys([*pending, *grown]))
            if not todo:
                break
            pending = []
            _replace_documents(engine, writer, todo)
            report.documents += len(todo)
            mark, since_commit, dirty = reached, since_commit + _PAGE, True
            if since_commit >= _CHECKPOINT:
                writer.commit(mark)
                since_commit, dirty = 0, False
        if dirty:
            writer.commit(mark)
    finally:
        writer.close()


def _replace_documents(engine: Engine, writer: DocumentWriter,
                       document_ids: Sequence[int]) -> None:
    """Delete these documents from the document index and add back those with passages."""
    from tracker.store.evidence import anchor_evidence, document_passages

    with session_scope(engine) as session:
        passages = document_passages(session=session, document_ids=document_ids)
        evidence = anchor_evidence(session=session, document_ids=list(passages))
    writer.delete(document_ids)
    rows = []
    for document_id, parts in passages.items():
        head = parts[0]
        text = "\n\n".join([head.title, head.authors, *(p.text for p in parts)])
        rows.append(DocumentRow(document_id, max(p.id for p in parts), text,
                                evidence.get(document_id, "")))
    writer.add(rows)


def _unusable(index: TantivyKeywordIndex | TantivyDocumentIndex) -> str:
    """Why the passage or document index cannot be updated in place ("" when it can)."""
    if not index.folder.exists():
        return "missing"
    if not index.exists():
        return "incomplete or of another format"
    try:
        return index.check()
    except (IndexBackendError, ValueError) as e:
        return f"unreadable ({e})"


def _rebuild(engine: Engine, index: TantivyKeywordIndex, horizon: Horizon,
             report: KeywordSync, progress: Callable[[str, int, int], None] | None) -> None:
    index.create()
    writer = index.writer()
    try:
        _add_new(engine, writer, 0, horizon.passage_id, report, progress)
        writer.commit()
    finally:
        writer.close()
    index.documents.create()
    _update_documents(engine, index.documents, [], horizon.passage_id, report)
    index.applied(horizon.seq)  # the rebuild read every passage and link written before it


def _apply(engine: Engine, writer: KeywordWriter, passage_ids: Sequence[int],
           document_ids: Sequence[int], after: int, report: KeywordSync) -> None:
    """Deletions, and first passages whose anchor evidence changed (re-indexed whole)."""
    from tracker.store.evidence import anchor_evidence, lead_passages

    writer.delete(passage_ids)
    report.removed += len(passage_ids)
    with session_scope(engine) as session:
        leads = [p for p in lead_passages(session=session, document_ids=document_ids)
                 if p.id <= after]  # those above are added with their evidence anyway
        evidence = anchor_evidence(session=session, document_ids=[p.document_id for p in leads])
    writer.delete(p.id for p in leads)
    writer.add(KeywordRow(p.id, p.document_id, p.title, p.authors, p.text,
                          evidence.get(p.document_id, "")) for p in leads)
    report.anchors += len(leads)


def _add_new(engine: Engine, writer: KeywordWriter, after: int, upto: int | None,
             report: KeywordSync, progress: Callable[[str, int, int], None] | None) -> None:
    """Passages above `after` (up to `upto`, when given), with the anchor evidence of first
    passages, committed every `_CHECKPOINT` passages."""
    from tracker.store.evidence import anchor_evidence, passage_stats, passages_after

    with session_scope(engine) as session:
        total, _ = passage_stats(session=session)
    since_commit = 0
    while True:
        with session_scope(engine) as session:
            rows = passages_after(session=session, after=after, limit=_PAGE, upto=upto)
            leads = [p.document_id for p in rows if p.ordinal == 0]
            evidence = anchor_evidence(session=session, document_ids=leads) if leads else {}
        if not rows:
            return
        writer.add(KeywordRow(p.id, p.document_id, p.title, p.authors, p.text,
                              evidence.get(p.document_id, "") if p.ordinal == 0 else "")
                   for p in rows)
        after, report.added, since_commit = rows[-1].id, report.added + len(rows), \
            since_commit + len(rows)
        if since_commit >= _CHECKPOINT:
            writer.commit()
            since_commit = 0
        if progress is not None:  # never "done" here: the last page is not committed yet
            progress("keywords", report.added, max(total, report.added + 1))


def keyword_problem(index: TantivyKeywordIndex) -> str:
    """Why the index must be built before it can be searched ("" when it can be, or when no
    passage is stored yet)."""
    problem = _unusable(index)
    if not problem:
        documents = _unusable(index.documents)
        problem = f"without its document index ({documents})" if documents else ""
    if not problem:
        return ""
    with session_scope(index.engine) as session:
        from tracker.store.evidence import passage_stats

        stored, _ = passage_stats(session=session)
    return problem if stored else ""


def keyword_state(engine: Engine) -> tuple[str, int, int]:
    """For `tracker doctor`: (problem or "", passages indexed, passages stored)."""
    from tracker.store.evidence import passage_stats

    index = tantivy_index(engine)
    with session_scope(engine) as session:
        stored, newest = passage_stats(session=session)
    problem = _unusable(index)
    if problem:
        return problem, 0, stored
    indexed = index.count()
    if index.backlog():
        return f"{index.backlog():,} changes not applied", indexed, stored
    if index.max_passage_id() < newest or indexed != stored:
        return "out of step with the passages", indexed, stored
    documents = _unusable(index.documents)
    if documents:
        return f"document index {documents}", indexed, stored
    if index.documents.watermark() < newest:
        return "document index out of step with the passages", indexed, stored
    return "", indexed, stored
