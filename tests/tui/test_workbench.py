"""The Library the app is given (tracker/workbench/), over the seeded corpus store."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tracker import store
from tracker.errors import TrackerError
from tracker.models import AuthorCreate, DocumentCreate
from tracker.store.engine import session_scope
from tracker.tui.library import Query
from tracker.workbench import Workbench


def _put(engine: Engine, native_id: str, title: str, body: str) -> int:
    doc = DocumentCreate(source="lesswrong", native_id=native_id, kind="post", title=title,
                         body_text=body, url=f"https://www.lesswrong.com/posts/{native_id}",
                         authors=[AuthorCreate(name="Ada Lovelace", slug="ada")])
    with session_scope(engine) as session:
        store.upsert_documents(session=session, documents=[doc])
        return store.get_document(session=session, ref=f"lesswrong:{native_id}").id or 0


def test_search_hits_carry_display_facts_and_highlights(workbench: Workbench) -> None:
    outcome = workbench.search(Query("goodhart optimization"))
    assert outcome.hits and outcome.notice == ""
    top = outcome.hits[0]
    assert top.rank == 1 and top.title and top.source in {"lesswrong", "eaforum"}
    for start, end in top.highlights:
        assert top.snippet[start:end].lower().startswith(("goodhart", "optimi"))
    only_ea = workbench.search(Query("goodhart optimization", sources=("eaforum",)))
    assert only_ea.hits and {h.source for h in only_ea.hits} == {"eaforum"}


def test_page_has_thread_in_reading_order_with_depths(workbench: Workbench) -> None:
    hit = next(h for h in workbench.search(Query("karma system contributor")).hits
               if h.kind == "post")
    page = workbench.page(hit.document_id)
    assert page.body and page.title == hit.title
    depths = [c.depth for c in page.comments]
    assert depths and depths[0] == 0
    assert all(b <= a + 1 for a, b in zip(depths, depths[1:], strict=False))


def test_tag_keeps_the_exact_span_even_when_the_sentence_repeats(
        workbench: Workbench, engine: Engine) -> None:
    sentence = "Proxies break under pressure."
    body = f"{sentence} Some words between.\n\n{sentence} More words after."
    doc_id = _put(engine, "repeat1", "Repeats", body)
    claim = workbench.add_claim("Optimising a proxy hard breaks it")
    second = body.index(sentence, 1)
    mark = workbench.tag(doc_id, second, second + len(sentence), claim.claim_id, "supports")
    assert (mark.start, mark.end) == (second, second + len(sentence))
    page = workbench.page(doc_id)
    assert [(m.start, m.end, m.stance) for m in page.marks] == [(mark.start, mark.end,
                                                                  "supports")]
    detail = workbench.claim(claim.claim_id)
    assert detail.summary.supports == 1 and detail.arguments[0].quote == sentence


def test_tag_refuses_an_empty_span(workbench: Workbench, engine: Engine) -> None:
    doc_id = _put(engine, "empty1", "Empty span", "Some text here.")
    claim = workbench.add_claim("A claim")
    with pytest.raises(TrackerError, match="Select some text"):
        workbench.tag(doc_id, 4, 4, claim.claim_id, "supports")


def test_overview_and_digest(workbench: Workbench) -> None:
    overview = workbench.overview()
    names = {line.name: line for line in overview.sources}
    assert names["lesswrong"].documents > 0 and "(ok)" in names["lesswrong"].last_sync
    assert overview.index.passages > 0 and overview.index.to_embed == 0
    week, text = workbench.digest("2019-W31")
    assert week == "2019-W31" and text.startswith("# tracker digest 2019-W31")
    assert [d.week for d in workbench.digests()] == ["2019-W31"]
    with pytest.raises(TrackerError):
        workbench.digest("2019-W99")
