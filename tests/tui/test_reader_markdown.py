"""The reader with markdown bodies: tagging through hidden markup anchors the exact original
text, a sentence's links open with `l` (shown on the status line), and only http(s) URLs ever
reach the browser: documents, links in bodies and citations alike."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from textual.widgets import Input

from tracker.tui.app import TrackerApp
from tracker.tui.screens.tag import TagScreen
from tracker.tui.widgets.links import LinkEntry, LinkList
from tracker.workbench import Workbench

from .conftest import SIZE
from .pilots import Notes, settle
from .reading import insert_post, open_reader, visible_text

BODY = ("The first sentence is plain.\n\n"
        "An _inner-aligned_ **actor** is [aligned to _evaluations_](https://example.org/e_v) "
        "of [plans](/posts/abc). Then [a trap](javascript:alert(1)) and "
        "[another](https://ok.example/\x1b[31mred) follow.\n")


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch, app: TrackerApp) -> list[str]:
    """The URLs the app hands to the browser."""
    urls: list[str] = []
    monkeypatch.setattr(app, "open_url", lambda url, new_tab=True: urls.append(url))
    return urls


async def test_tagging_a_sentence_with_emphasis_and_a_link_anchors_the_original_text(
        app: TrackerApp, workbench: Workbench, engine: Engine) -> None:
    document_id = insert_post(engine, "markdown-tag", "Markdown", BODY)
    claim = workbench.add_claim("Grader optimization aligns to evaluations")
    quote = ("An _inner-aligned_ **actor** is [aligned to _evaluations_]"
             "(https://example.org/e_v) of [plans](/posts/abc).")
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, document_id)
        shown = "\n".join(visible_text(reader.view))
        assert "An inner-aligned actor is aligned to evaluations of plans." in shown
        await pilot.press("j", "t")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, TagScreen) and modal.quote == quote
        modal.query_one("#tag-filter", Input).value = "Grader optimization"
        await pilot.pause()
        await pilot.press("down", "1", "enter")
        await settle(pilot)
        assert app.screen is reader
        assert [(m.start, m.end) for m in reader.view.marks] == [
            (BODY.index(quote), BODY.index(quote) + len(quote))]
    arguments = workbench.claim(claim.claim_id).arguments
    assert [(a.quote, a.stance) for a in arguments] == [(quote, "supports")]


async def test_links_of_the_sentence_open_with_l_and_only_http(
        app: TrackerApp, engine: Engine, opened: list[str]) -> None:
    document_id = insert_post(engine, "markdown-links", "Links", BODY)
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        reader = await open_reader(pilot, document_id)
        await pilot.press("l")
        assert opened == [] and notes.shown[-1].message == "No link in this sentence"
        await pilot.press("j")
        status = str(reader.query_one("#reader-status").render())
        assert "link: https://example.org/e_v (+1 more)" in status
        await pilot.press("l", "l", "l")  # the second is relative to the document's URL
        assert opened == ["https://example.org/e_v", "https://www.lesswrong.com/posts/abc",
                          "https://example.org/e_v"]
        await pilot.press("j", "l")
        assert len(opened) == 3
        refused = notes.titled("Refused")
        assert refused and "javascript:alert(1)" in refused[-1].message
        await pilot.press("l")  # the store cleaned the escape out of the body
        assert opened[-1] == "https://ok.example/red"
        assert all("\x1b" not in n.message for n in notes.shown)


async def test_a_document_or_citation_with_a_non_web_url_is_refused(
        app: TrackerApp, engine: Engine, opened: list[str]) -> None:
    document_id = insert_post(engine, "js-url", "Script", "Text.")
    with engine.begin() as connection:  # as a hostile site could store it
        from sqlalchemy import text

        connection.execute(text("UPDATE document SET url = :url WHERE id = :id"),
                           {"url": "javascript:alert(document.cookie)", "id": document_id})
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        reader = await open_reader(pilot, document_id)
        await pilot.press("o")
        assert opened == [] and len(notes.titled("Refused")) == 1
        await pilot.press("3")
        cites = reader.query_one("#reader-cites", LinkList)
        cites.show([LinkEntry(None, "bad", "not stored", "\x1b]8;;file:///etc/passwd\x07"),
                    LinkEntry(None, "good", "not stored", "https://example.org/ok")], "")
        cites.highlighted = 0
        await pilot.press("o")
        assert opened == [] and len(notes.titled("Refused")) == 2
        assert "\x1b" not in notes.titled("Refused")[-1].message
        cites.highlighted = 1
        await pilot.press("o")
        assert opened == ["https://example.org/ok"]
