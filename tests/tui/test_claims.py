"""The claims screen, driven by keys: claims with counts, arguments for and against, stale links
flagged, suggestions fetched, accepted and rejected by one key each, documents opened."""

from __future__ import annotations

from sqlalchemy import Engine
from textual.content import Content
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from tracker import store
from tracker.models import DocumentCreate
from tracker.store.engine import session_scope
from tracker.tui.app import TrackerApp
from tracker.tui.messages import OpenDocument
from tracker.tui.widgets.argument import STALE_FLAG, ArgumentList
from tracker.tui.widgets.claimlist import ClaimList
from tracker.workbench import Workbench

from .conftest import SIZE
from .pilots import Notes, settle

TITLE = "The correct response to uncertainty is *not* half-speed"
KEPT = "Once upon a time (true story), I was on my way to a hotel in a new city."
CLAIM = "Acting at half speed is the wrong response to uncertainty"




def document(engine: Engine, title: str = TITLE) -> tuple[int, str]:
    """A seeded post's id and body, by title."""
    with session_scope(engine) as session:
        from sqlmodel import select

        from tracker.models import Document

        doc = session.exec(select(Document).where(Document.title == title)).one()
        assert doc.id is not None
        return doc.id, doc.body_text


def tag_quote(workbench: Workbench, engine: Engine, claim_id: int, quote: str,
              stance: str = "supports") -> int:
    """Tag a real passage of the seeded post; the link id."""
    doc_id, body = document(engine)
    start = body.index(quote)
    return workbench.tag(doc_id, start, start + len(quote), claim_id, stance).link_id


def rewrite(engine: Engine, drop: str) -> None:
    """Edit the seeded post as a sync would, with `drop` gone from its text."""
    with session_scope(engine) as session:
        doc_id, body = document(engine)
        public = store.to_public(session=session,
                                 document=store.get_document(session=session, ref=str(doc_id)))
        edited = public.model_dump(exclude={"id", "content_hash", "fetched_at"})
        edited["body_text"] = body.replace(drop, "A different sentence now.")
        store.upsert_documents(session=session, documents=[DocumentCreate.model_validate(edited)])


def texts(arguments: ArgumentList) -> str:
    """Everything the argument list shows, as plain text."""
    return "\n".join(str(arguments.get_option_at_index(i).prompt)
                     for i in range(arguments.option_count))


async def open_claims(pilot: Pilot[None]) -> tuple[ClaimList, ArgumentList]:
    await pilot.press("f3")
    await settle(pilot)
    return pilot.app.screen.query_one(ClaimList), pilot.app.screen.query_one(ArgumentList)


async def test_claims_list_their_arguments_and_flag_stale_links(
        app: TrackerApp, workbench: Workbench, engine: Engine) -> None:
    claim = workbench.add_claim(CLAIM).claim_id
    tag_quote(workbench, engine, claim, KEPT)
    gone = "After a while, I began to worry I had passed the hotel."
    tag_quote(workbench, engine, claim, gone, stance="opposes")
    rewrite(engine, gone)
    errors: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Notify) and message.notification.severity == "error":
            errors.append(str(message.notification.message))

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        claims, arguments = await open_claims(pilot)
        [summary] = claims.claims
        assert (summary.text, summary.supports, summary.opposes, summary.stale) == \
            (CLAIM, 1, 0, 1)  # a stale link counts as stale, not for its stance
        assert "+1 −0 ~0 · 1 stale · 0 suggested" in str(claims.get_option_at_index(0).prompt)
        shown = texts(arguments)
        assert "For (1)" in shown and "Against (1)" in shown and "Mentions (0)" in shown
        assert KEPT in shown and TITLE in shown
        assert arguments.detail is not None
        [stale] = [a for a in arguments.detail.arguments if a.status == "stale"]
        assert gone in stale.quote
        stale_row = arguments.get_option(f"link-{stale.link_id}").prompt
        assert STALE_FLAG in str(stale_row)
        assert isinstance(stale_row, Content)
        assert any("$warning" in str(span.style) for span in stale_row.spans)
        await pilot.press("enter", "down")  # to the arguments, then to the stale one
        assert arguments.current == stale
        await pilot.press("a")  # its quote is gone: refused with a notification, kept
        await settle(pilot)
        assert len(errors) == 1 and "no longer in" in errors[0]
        assert arguments.current == stale
    assert [a.status for a in workbench.claim(claim).arguments] == ["confirmed", "stale"]


async def test_suggestions_are_fetched_then_accepted_and_rejected_by_one_key(
        app: TrackerApp, workbench: Workbench) -> None:
    claim = workbench.add_claim(CLAIM).claim_id
    async with app.run_test(size=SIZE) as pilot:
        claims, arguments = await open_claims(pilot)
        await pilot.press("g")
        await settle(pilot)
        assert not arguments.loading
        assert arguments.detail is not None
        found = arguments.detail.suggestions
        assert len(found) >= 5 and found[0].status == "suggested"
        assert "suggested" in str(claims.get_option_at_index(0).prompt)
        first, row = arguments.current, arguments.highlighted_option
        assert first == found[0] and row is not None
        assert f"{first.stance}?" in str(row.prompt)
        await pilot.press("a")
        assert arguments.current == found[1]  # moved on before the store answered
        await pilot.press("r")
        await settle(pilot)
        assert arguments.current is not None and arguments.current.link_id == found[2].link_id
        assert claims.claims[0].suggested == len(found) - 2
        await pilot.press("o", "r")  # faster than the store: each key takes the next one
        await settle(pilot)
        assert arguments.current is not None and arguments.current.link_id == found[4].link_id
        assert (claims.claims[0].suggested, claims.claims[0].opposes) == \
            (len(found) - 4, 1 + (first.stance == "opposes"))
    detail = workbench.claim(claim)
    confirmed = {a.link_id: (a.status, a.stance) for a in detail.arguments}
    assert confirmed == {first.link_id: ("confirmed", first.stance),
                         found[2].link_id: ("confirmed", "opposes")}
    open_ids = {s.link_id for s in detail.suggestions}
    assert not open_ids & {found[1].link_id, found[3].link_id}
    assert {s.link_id for s in found[4:]} <= open_ids


async def test_a_suggestion_is_accepted_with_another_stance(
        app: TrackerApp, workbench: Workbench) -> None:
    claim = workbench.add_claim(CLAIM).claim_id
    workbench.suggest(claim)
    async with app.run_test(size=SIZE) as pilot:
        _claims, arguments = await open_claims(pilot)
        first = arguments.current
        assert first is not None and first.status == "suggested"
        stance = "opposes" if first.stance != "opposes" else "supports"
        await pilot.press(stance[0])
        await settle(pilot)
    [accepted] = workbench.claim(claim).arguments
    assert (accepted.link_id, accepted.stance) == (first.link_id, stance)


async def test_enter_opens_the_argument_in_the_reader(
        workbench: Workbench, engine: Engine) -> None:
    from tests.index.conftest import HashEmbedder
    from tracker.config import load_settings
    from tracker.workbench import make_app

    claim = workbench.add_claim(CLAIM).claim_id
    tag_quote(workbench, engine, claim, KEPT)
    doc_id, body = document(engine)
    opened: list[OpenDocument] = []

    def hook(message: Message) -> None:
        if isinstance(message, OpenDocument) and message not in opened:  # once, not per hop
            opened.append(message)

    app = make_app(engine, load_settings(), embedder=HashEmbedder(), start="claims")
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the claim: go to its arguments
        assert app.focused is app.screen.query_one(ArgumentList)
        await pilot.press("enter")
        await settle(pilot)
        assert [(m.document_id, m.at) for m in opened] == [(doc_id, body.index(KEPT))]
        assert app.screen.__class__.__name__ == "ReaderScreen"


async def test_new_claims_and_tags_made_elsewhere_show_up(
        app: TrackerApp, workbench: Workbench, engine: Engine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        claims, arguments = await open_claims(pilot)
        assert claims.claims == [] and arguments.detail is None
        await pilot.press("a")  # nothing to decide: a notification, no crash
        await pilot.press("n", *["space" if c == " " else c for c in "Takeoff is slow"], "enter")
        await settle(pilot)
        [made] = claims.claims
        assert made.text == "Takeoff is slow"
        assert [c.text for c in workbench.claims()] == ["Takeoff is slow"]
        await pilot.press("f2")
        tag_quote(workbench, engine, made.claim_id, KEPT, stance="mentions")
        await pilot.press("f3")  # the screen reloads when it comes back
        await settle(pilot)
        assert claims.claims[0].mentions == 1
        assert KEPT in texts(arguments)
        await pilot.press("n", "enter")  # an empty claim is refused with a notification
        await settle(pilot)
        assert len(workbench.claims()) == 1


async def test_suggestions_without_an_index_say_what_to_do(engine: Engine) -> None:
    """A claim on a store whose documents are not indexed yet: `g` explains, nothing breaks."""
    from tests.index.conftest import HashEmbedder
    from tracker.config import load_settings
    from tracker.store.engine import make_engine
    from tracker.workbench import make_app

    empty = make_engine(load_settings().sqlalchemy_url.replace("tracker.db", "empty.db"))
    Workbench(empty, load_settings()).add_claim(CLAIM)
    app = make_app(empty, load_settings(), embedder=HashEmbedder(), start="claims")
    notes = Notes()
    try:
        async with app.run_test(size=SIZE, message_hook=notes) as pilot:
            await settle(pilot)
            await pilot.press("g")
            await settle(pilot)
            assert app.is_running and app.current_mode == "claims"
            assert not app.screen.query_one(ArgumentList).loading
    finally:
        empty.dispose()
    errors = [n for n in notes.shown if n.severity == "error"]
    assert len(errors) == 1 and "Nothing is indexed yet" in errors[0].message
    assert Workbench(engine, load_settings()).claims() == []  # the seeded store is untouched
