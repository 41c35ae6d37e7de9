"""Tagging while reading: select by keys or mouse, pick or create a claim and a stance, and the
store holds a confirmed link anchored to exactly the selected text."""

from __future__ import annotations

from sqlalchemy import Engine
from textual.message import Message
from textual.widgets import Input, OptionList

from tracker.tui.app import TrackerApp
from tracker.tui.messages import Tagged
from tracker.tui.screens.tag import TagScreen
from tracker.workbench import Workbench

from .conftest import SIZE
from .pilots import settle
from .reading import cited_post, click_offset, open_reader


def _confirmed(workbench: Workbench, claim_id: int, document_id: int) -> list[tuple[str, str]]:
    detail = workbench.claim(claim_id)
    return [(a.quote, a.stance) for a in detail.arguments
            if a.status == "confirmed" and a.document_id == document_id]


async def test_tag_a_passage_by_keys(app: TrackerApp, workbench: Workbench,
                                     engine: Engine) -> None:
    claim = workbench.add_claim("Gears-level models are capital investments")
    other = workbench.add_claim("Black boxes generalise well")
    page = cited_post(workbench, engine)
    messages: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        reader = await open_reader(pilot, page.document_id)
        view = reader.view
        await pilot.press("j", "v", "j")
        span = view.selection_span
        assert span is not None and view.selection == (1, 2)
        assert span == (view.model.sentences[1][0], view.model.sentences[2][1])
        await pilot.press("t")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, TagScreen) and modal.quote == page.body[span[0]:span[1]]
        claims = modal.query_one("#tag-claims", OptionList)
        assert claims.option_count == 2
        await pilot.press("c", "a", "p", "i", "t", "a", "l")  # filters to one claim
        assert claims.option_count == 2  # the match, and "Create claim: capital"
        await pilot.press("down", "2", "enter")
        await settle(pilot)
        assert app.screen is reader

    assert _confirmed(workbench, claim.claim_id, page.document_id) == [
        (page.body[span[0]:span[1]], "opposes")]
    assert _confirmed(workbench, other.claim_id, page.document_id) == []
    marks = [m for m in workbench.page(page.document_id).marks if m.claim_id == claim.claim_id]
    assert [(m.start, m.end, m.stance, m.status) for m in marks] == [
        (span[0], span[1], "opposes", "confirmed")]
    assert [(m.start, m.end) for m in view.marks] == [span]
    tagged = list({id(m): m for m in messages if isinstance(m, Tagged)}.values())  # bubbled
    assert [(m.document_id, m.link_id) for m in tagged] == [(page.document_id, marks[0].link_id)]


async def test_mark_is_shown_with_its_claim(app: TrackerApp, workbench: Workbench,
                                            engine: Engine) -> None:
    page = cited_post(workbench, engine)
    claim = workbench.add_claim("Maps beat mazes")
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id)
        view = reader.view
        view.model.sentences_until(4)  # found lazily, as far as asked
        sentence = view.model.sentences[3]
        workbench.tag(page.document_id, *sentence, claim.claim_id, "supports")
        reader.navigate(page.document_id)  # reload: the mark comes with the page
        await settle(pilot)
        view = reader.view
        assert [(m.start, m.end) for m in view.marks] == [sentence]
        index = view.model.line_at(sentence[0])
        styled = [s for s in view.line_strip(index) if s.style and s.style.underline]
        assert styled, "a supporting passage is underlined"
        await pilot.press("j", "j", "j")
        status = str(reader.query_one("#reader-status").render())
        assert f"claim {claim.claim_id}: Maps beat mazes (supports)" in status


async def test_create_a_claim_from_the_dialog(app: TrackerApp, workbench: Workbench,
                                              engine: Engine) -> None:
    page = cited_post(workbench, engine)
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id)
        await pilot.press("j", "j", "t")
        await settle(pilot)
        span = reader.view.cursor_span
        assert span is not None
        modal = app.screen
        assert isinstance(modal, TagScreen)
        modal.query_one("#tag-filter", Input).value = "Mazes teach [bold]planning[/]"
        await pilot.pause()
        prompts = modal.query_one("#tag-claims", OptionList)
        assert prompts.option_count == 1  # no claim matches: only "Create claim: …"
        assert "Create claim: Mazes teach [bold]planning[/]" in str(
            prompts.get_option_at_index(0).prompt)
        await pilot.press("down", "3", "enter")
        await settle(pilot)
        assert app.screen is reader
    made = [c for c in workbench.claims() if c.text == "Mazes teach [bold]planning[/]"]
    assert len(made) == 1
    assert _confirmed(workbench, made[0].claim_id, page.document_id) == [
        (page.body[span[0]:span[1]], "mentions")]


async def test_tag_with_the_mouse(app: TrackerApp, workbench: Workbench,
                                  engine: Engine) -> None:
    claim = workbench.add_claim("Mouse users tag too")
    page = cited_post(workbench, engine)
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id)
        view = reader.view
        view.model.sentences_until(5)
        first, last = view.model.sentences[2], view.model.sentences[4]
        await pilot.click("#reader-text", offset=click_offset(view, first[0] + 1))
        assert view.selection_span == first
        await pilot.click("#reader-text", offset=click_offset(view, last[0] + 1), shift=True)
        assert view.selection_span == (first[0], last[1])
        await pilot.press("t")
        await settle(pilot)
        await pilot.press("enter")  # the one claim, with the default stance
        await settle(pilot)
    assert _confirmed(workbench, claim.claim_id, page.document_id) == [
        (page.body[first[0]:last[1]], "supports")]


async def test_escape_cancels_and_clears(app: TrackerApp, workbench: Workbench,
                                         engine: Engine) -> None:
    claim = workbench.add_claim("Nothing gets tagged here")
    page = cited_post(workbench, engine)
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id)
        await pilot.press("v", "j", "t")
        await settle(pilot)
        assert isinstance(app.screen, TagScreen)
        await pilot.press("escape")
        assert app.screen is reader and reader.view.selection is not None
        await pilot.press("escape")  # clears the selection, the reader stays
        assert app.screen is reader and reader.view.selection is None
    assert workbench.claim(claim.claim_id).arguments == []


async def test_drag_selects_sentences(app: TrackerApp, workbench: Workbench,
                                      engine: Engine) -> None:
    page = cited_post(workbench, engine)
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id)
        view = reader.view
        view.model.sentences_until(4)
        first, last = view.model.sentences[1], view.model.sentences[3]
        await pilot.mouse_down("#reader-text", offset=click_offset(view, first[0] + 1))
        await pilot.hover("#reader-text", offset=click_offset(view, last[0] + 1))
        await pilot.mouse_up("#reader-text", offset=click_offset(view, last[0] + 1))
        assert view.selection_span == (first[0], last[1])
        assert view.target_span == (first[0], last[1])


async def test_a_refused_tag_is_a_notification(app: TrackerApp, workbench: Workbench,
                                               engine: Engine) -> None:
    """The post is deleted on the site after it was opened: the store refuses the tag, the
    reader says so and stays open, and nothing is stored."""
    from textual.notifications import Notify

    from tracker import store
    from tracker.store.engine import session_scope

    claim = workbench.add_claim("Gears-level models are capital investments")
    page = cited_post(workbench, engine)
    messages: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        reader = await open_reader(pilot, page.document_id)
        with session_scope(engine) as session:
            store.get_document(session=session, ref=str(page.document_id)).deleted = True
        await pilot.press("j", "t")
        await settle(pilot)
        await pilot.press("down", "1", "enter")
        await settle(pilot)
        assert app.screen is reader and app.is_running
    errors = [m.notification for m in messages if isinstance(m, Notify)
              and m.notification.severity == "error"]
    assert errors and "deleted" in errors[0].message
    assert _confirmed(workbench, claim.claim_id, page.document_id) == []
