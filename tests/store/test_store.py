"""The store on SQLite and on a real PostgreSQL: upserts, revisions, links, cursors, deletions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, select
from sqlmodel import col

from tracker import store
from tracker.errors import NotFoundError
from tracker.models import (
    AuthorCreate,
    Document,
    DocumentCreate,
    DocumentTag,
    Link,
    LinkContext,
    LinkCreate,
    Revision,
)
from tracker.store.engine import session_scope

T0 = datetime(2022, 6, 5, 22, 5, 52, 224000, tzinfo=UTC)


def post(native_id: str, **overrides: object) -> DocumentCreate:
    values: dict[str, object] = {
        "source": "lesswrong",
        "native_id": native_id,
        "kind": "post",
        "url": f"https://www.lesswrong.com/posts/{native_id}/slug-{native_id.lower()}",
        "title": f"Post {native_id}",
        "posted_at": T0,
        "score": 10.0,
        "vote_count": 5,
        "comment_count": 2,
        "body_html": f"<p>Body of {native_id}</p>",
        "body_text": f"Body of {native_id}",
        "authors": [AuthorCreate(name="Eliezer Yudkowsky", slug="eliezer_yudkowsky")],
        "tags": ["AI"],
        "aliases": [f"lw:{native_id}", f"lw-slug:slug-{native_id.lower()}"],
    }
    values.update(overrides)
    return DocumentCreate.model_validate(values)


def cite(target: str, kind: str = "post") -> LinkCreate:
    return LinkCreate(url=f"https://www.lesswrong.com/posts/{target}/x", kind=kind,
                      target_key=f"lw:{target}", anchor_text=f"see {target}")


A, B, C = "uMQ3cqWDPHhjtiesc", "j9Q8bRmwCgXRYAgcJ", "5bd75cc58225bf067037550b"


def upsert(engine: Engine, *docs: DocumentCreate) -> store.UpsertCounts:
    with session_scope(engine) as session:
        return store.upsert_documents(session=session, documents=list(docs))


def test_insert_then_rerun_adds_nothing(engine: Engine) -> None:
    first = upsert(engine, post(A), post(B))
    again = upsert(engine, post(A), post(B))
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    with session_scope(engine) as session:
        assert store.count_documents(session=session) == 2
        doc = store.get_document(session=session, ref=A)
        assert doc.posted_at == T0  # timezone-aware and exact to the millisecond on both backends
        public = store.to_public(session=session, document=doc)
        assert public.authors == [AuthorCreate(name="Eliezer Yudkowsky", slug="eliezer_yudkowsky")]
        assert public.tags == ["AI"]


def test_duplicates_inside_one_batch_keep_the_last(engine: Engine) -> None:
    counts = upsert(engine, post(A, title="old"), post(A, title="new"))
    assert counts.new == 1
    with session_scope(engine) as session:
        assert store.get_document(session=session, ref=A).title == "new"


def test_edit_keeps_previous_text_as_revision(engine: Engine) -> None:
    upsert(engine, post(A))
    counts = upsert(engine, post(A, body_text="Edited body", body_html="<p>Edited body</p>",
                              modified_at=T0 + timedelta(days=1)))
    assert counts.updated == 1
    with session_scope(engine) as session:
        doc = store.get_document(session=session, ref=A)
        assert doc.body_text == "Edited body"
        assert doc.id is not None
        revisions = store.get_revisions(session=session, document_id=doc.id)
        assert [r.body_text for r in revisions] == [f"Body of {A}"]
        assert revisions[0].content_hash == store.content_hash(f"Post {A}", f"Body of {A}")


def test_score_change_updates_without_revision(engine: Engine) -> None:
    upsert(engine, post(A))
    counts = upsert(engine, post(A, score=99.0, comment_count=7))
    assert (counts.updated, counts.unchanged) == (1, 0)
    with session_scope(engine) as session:
        doc = store.get_document(session=session, ref=A)
        assert (doc.score, doc.comment_count) == (99.0, 7)
        assert session.execute(select(Revision)).first() is None


def test_link_resolves_when_target_arrives_later(engine: Engine) -> None:
    upsert(engine, post(A, links=[cite(B), cite("zzzzzzzzzzzzzzzzz")]))
    with session_scope(engine) as session:
        doc_a = store.get_document(session=session, ref=A)
        assert doc_a.id is not None
        rows = store.outgoing_links(session=session, document_id=doc_a.id)
        assert [r.document for r in rows] == [None, None]
    upsert(engine, post(B))
    with session_scope(engine) as session:
        rows = store.outgoing_links(session=session, document_id=doc_a.id)
        assert rows[0].document is not None and rows[0].document.native_id == B
        assert rows[1].document is None
        doc_b = store.get_document(session=session, ref=B)
        assert doc_b.id is not None
        cited_by = store.incoming_links(session=session, document_id=doc_b.id)
        assert [r.document.native_id for r in cited_by if r.document] == [A]


def test_link_resolves_when_target_arrived_first(engine: Engine) -> None:
    upsert(engine, post(B))
    upsert(engine, post(A, links=[cite(B)]))
    with session_scope(engine) as session:
        doc_a = store.get_document(session=session, ref=A)
        assert doc_a.id is not None
        [row] = store.outgoing_links(session=session, document_id=doc_a.id)
        assert row.document is not None and row.document.native_id == B


def test_edit_replaces_links(engine: Engine) -> None:
    upsert(engine, post(B), post(C))
    upsert(engine, post(A, links=[cite(B)]))
    upsert(engine, post(A, body_text="now cites C", links=[cite(C)]))
    with session_scope(engine) as session:
        links = session.execute(select(Link.target_key)).scalars().all()
        assert links == [f"lw:{C}"]


def test_slug_alias_resolves_a_slug_link(engine: Engine) -> None:
    slug_link = LinkCreate(url="https://www.lesswrong.com/posts/slug/slug-x", kind="post",
                           target_key=f"lw-slug:slug-{B.lower()}")
    upsert(engine, post(A, links=[slug_link]), post(B))
    with session_scope(engine) as session:
        doc_b = store.get_document(session=session, ref=B)
        assert doc_b.id is not None
        assert len(store.incoming_links(session=session, document_id=doc_b.id)) == 1


def test_cursor_saved_and_read(engine: Engine) -> None:
    with session_scope(engine) as session:
        store.save_cursor(session=session, source="lesswrong", values={"posts": "a"})
    with session_scope(engine) as session:
        store.save_cursor(session=session, source="lesswrong", values={"posts": "b", "x": "1"})
    with session_scope(engine) as session:
        assert store.get_cursor(session=session, source="lesswrong") == {"posts": "b", "x": "1"}
        assert store.get_cursor(session=session, source="eaforum") == {}


def test_cursor_rolls_back_with_the_rows(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        store.upsert_documents(session=session, documents=[post(A)])
        store.save_cursor(session=session, source="lesswrong", values={"posts": "moved"})
        raise RuntimeError("killed mid-batch")
    with session_scope(engine) as session:
        assert store.get_cursor(session=session, source="lesswrong") == {}
        assert store.count_documents(session=session) == 0


def test_window_marks_unlisted_documents_deleted(engine: Engine) -> None:
    upsert(engine, post(A), post(B), post(C, posted_at=T0 - timedelta(days=30)))
    with session_scope(engine) as session:
        gone = store.mark_missing_deleted(
            session=session, source="lesswrong", kind="post", start=T0 - timedelta(days=1),
            end=T0 + timedelta(days=1), seen=[A],
        )
    assert gone == 1
    with session_scope(engine) as session:
        deleted = session.execute(
            select(Document.native_id).where(col(Document.deleted).is_(True))
        ).scalars().all()
        assert deleted == [B]  # C is outside the window: untouched
    counts = upsert(engine, post(B))  # listed again: restored
    assert counts.updated == 1


def test_get_document_by_every_kind_of_reference(engine: Engine) -> None:
    upsert(engine, post(A), post(A, source="eaforum"), post(B))
    with session_scope(engine) as session:
        by_native = store.get_document(session=session, ref=B)
        assert store.get_document(session=session, ref=str(by_native.id)).native_id == B
        assert store.get_document(session=session, ref=f"eaforum:{A}").source == "eaforum"
        assert store.get_document(session=session, ref=f"lw:{B}").native_id == B
        url = f"https://www.alignmentforum.org/posts/{B}/whatever?x=1"
        assert store.get_document(session=session, ref=url).native_id == B
        with pytest.raises(NotFoundError, match="several documents"):
            store.get_document(session=session, ref=A)
        with pytest.raises(NotFoundError, match="No document 'nope'"):
            store.get_document(session=session, ref="nope")


def test_thread_lists_comments_of_a_post(engine: Engine) -> None:
    comment = post("c" * 17, kind="comment", post_id=A, parent_id=None, aliases=[])
    reply = post("r" * 17, kind="comment", post_id=A, parent_id="c" * 17, aliases=[],
                 posted_at=T0 + timedelta(hours=1))
    upsert(engine, post(A), reply, comment)
    with session_scope(engine) as session:
        thread = store.get_thread(session=session, post=store.get_document(session=session, ref=A))
        assert [(c.native_id, c.parent_id) for c in thread] == [("c" * 17, None),
                                                                 ("r" * 17, "c" * 17)]


def test_status_counts_af_documents_once(engine: Engine) -> None:
    upsert(engine, post(A, af=True), post(B))
    with session_scope(engine) as session:
        run = store.start_run(session=session, source="lesswrong")
        assert run.id is not None
        store.finish_run(session=session, run_id=run.id, status="ok",
                         counts=store.UpsertCounts(new=2))
        rows = store.source_status(session=session, sources=["lesswrong", "alignmentforum"])
    assert rows[0].documents == {"post": 2} and rows[1].documents == {"post": 1}
    assert rows[0].last_success is not None and rows[1].last_run is None


def test_killed_run_is_marked_interrupted(engine: Engine) -> None:
    with session_scope(engine) as session:
        store.start_run(session=session, source="eaforum")  # never finished: the process died
    with session_scope(engine) as session:
        store.start_run(session=session, source="eaforum")
        [status] = store.source_status(session=session, sources=["eaforum"])
    assert status.last_error is not None and status.last_error.status == "interrupted"


def test_very_long_urls_fit_and_still_resolve(engine: Engine) -> None:
    url = "https://example.org/" + "very-long-path/" * 300
    key = f"url:{url}"
    link = LinkCreate(url=url, kind="external", target_key=key, anchor_text="x" * 5000)
    upsert(engine, post(A, links=[link]), post(B, aliases=[key], title="y" * 2000,
                                               authors=[AuthorCreate(name="z" * 1000)]))
    with session_scope(engine) as session:
        doc_a = store.get_document(session=session, ref=A)
        assert doc_a.id is not None
        [row] = store.outgoing_links(session=session, document_id=doc_a.id)
        assert row.url == url and row.document is not None and row.document.native_id == B
        assert store.get_document(session=session, ref=key).native_id == B


def test_a_new_row_on_a_reused_id_carries_only_its_own_relations(engine: Engine) -> None:
    """New rows skip deleting relation rows (an import's fast path): that holds only because
    deleting a document cascades to its authors, tags, links and link sentences, and SQLite
    hands the highest deleted id to the next insert."""
    old = post(C, links=[cite(A)], tags=["old tag"],
               authors=[AuthorCreate(name="Old Author")])
    old.links[0].context = "see A, said the old post."
    upsert(engine, post(A), old)
    with session_scope(engine) as session:
        old_id = session.execute(select(Document.id).where(col(Document.native_id) == C)).scalar()
        session.execute(delete(Document).where(col(Document.id) == old_id))
    upsert(engine, post(B))
    with session_scope(engine) as session:
        new_id = session.execute(select(Document.id).where(col(Document.native_id) == B)).scalar()
        if engine.dialect.name == "sqlite":
            assert new_id == old_id  # the case this test is about
        assert [a.name for a in store.document_authors(session=session, document_id=new_id)
                ] == ["Eliezer Yudkowsky"]
        for table in (Link, LinkContext, DocumentTag):
            rows = session.execute(select(table).where(col(table.document_id) == new_id))
            assert len(rows.all()) == (1 if table is DocumentTag else 0), table.__name__
