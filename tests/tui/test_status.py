"""The status screen, driven by keys: sources and the index from the seeded store, a sync in the
background while the app stays usable, an index run, and a failing source shown, not raised."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine
from textual.widgets import DataTable, Static

from tests.index.conftest import HashEmbedder
from tests.servers.forum import Fault, ForumServer, Site, sample_sites
from tracker import store
from tracker.config import load_settings
from tracker.models import DocumentCreate
from tracker.store.engine import session_scope
from tracker.tui.app import TrackerApp
from tracker.tui.screens.status import COLUMNS, StatusScreen
from tracker.tui.widgets.progress import JobProgress
from tracker.workbench import make_app

from .conftest import SIZE, point_at
from .pilots import Notes, settle


def text_of(screen: StatusScreen, selector: str) -> str:
    """What a Static of the screen shows, as plain text."""
    return str(screen.query_one(selector, Static).content)


def status_app(engine: Engine) -> TrackerApp:
    """The app as the CLI builds it, with the settings of the environment now."""
    return make_app(engine, load_settings(), embedder=HashEmbedder(), start="status")


async def test_sources_and_the_index_of_the_seeded_store(app: TrackerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, StatusScreen) and screen.overview is not None
        table = screen.query_one("#sources", DataTable)
        assert [str(c.label) for c in table.columns.values()] == list(COLUMNS)
        rows = {str(table.get_row_at(i)[0]): table.get_row_at(i) for i in range(table.row_count)}
        assert {"lesswrong", "eaforum"} <= set(rows)
        assert int(str(rows["lesswrong"][2])) > 100 and "(ok)" in str(rows["lesswrong"][3])
        panel = text_of(screen, "#index-panel")
        assert "model test-hash-64" in panel and "0 passages to embed" in panel


async def test_a_sync_runs_in_the_background_while_the_app_stays_usable(
        engine: Engine, shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sites = sample_sites(shared / "corpus")
    gate = threading.Event()  # holds the server's first answer until the test has looked around
    notes = Notes()
    with ForumServer(sites=[Site.lesswrong(sites["lesswrong"]),
                            Site.eaforum(sites["eaforum"])]) as server:
        server.faults.push(Fault.delay(0).only(predicate=lambda _r: gate.wait(30) and False)
                           .repeat(None))
        point_at(monkeypatch, server)
        app = status_app(engine)
        try:
            async with app.run_test(size=SIZE, message_hook=notes) as pilot:
                await settle(pilot)
                screen = app.screen
                assert isinstance(screen, StatusScreen)
                await pilot.press("s")
                await pilot.pause()
                assert screen.running and screen.query_one(JobProgress).has_class("-running")
                await pilot.press("i")  # one job at a time
                await pilot.press("f2")
                assert app.current_mode == "search"
                await pilot.press("f4")
                back = app.screen is screen  # the same screen, its job still running
                assert back and screen.running
                await pilot.press("f2")
                gate.set()  # the sync ends while another screen is shown
                await settle(pilot)
                assert app.current_mode == "search" and not screen.running
                [done] = notes.titled("Sync finished")
                assert "lesswrong: ok" in str(done.message) and "eaforum: ok" in str(done.message)
                await pilot.press("f4")
                await settle(pilot)
                assert "lesswrong: ok" in screen.query_one(JobProgress).message
                assert not screen.query_one(JobProgress).has_class("-running")
                assert len(notes.titled("Busy")) == 1
                assert screen.overview is not None
                [lesswrong] = [s for s in screen.overview.sources if s.name == "lesswrong"]
                assert lesswrong.error == "" and "(ok)" in lesswrong.last_sync
        finally:
            gate.set()
    assert server.requests, "the sync talked to the server"


async def test_an_index_run_updates_the_index_panel(app: TrackerApp, engine: Engine) -> None:
    with session_scope(engine) as session:
        store.upsert_documents(session=session, documents=[DocumentCreate(
            source="lesswrong", native_id="tui-new-post", kind="post", title="A new post",
            body_text="Optimising a proxy hard breaks it. " * 40)])
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.press("f4")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, StatusScreen) and screen.overview is not None
        before = screen.overview.index
        assert before.to_split == 1
        await pilot.press("i")
        await settle(pilot)
        after = screen.overview.index
        assert (after.to_split, after.to_embed) == (0, 0)
        assert after.passages > before.passages and after.embedded == after.passages
        [done] = notes.titled("Index run finished")
        assert "1 documents split" in str(done.message)
        assert "0 documents to split" in text_of(screen, "#index-panel")


async def test_a_failing_source_shows_its_error_without_a_crash(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_SOURCES__LESSWRONG__ENDPOINT", "http://127.0.0.1:9/graphql")
    monkeypatch.setenv("TRACKER_SOURCES__LESSWRONG__MAX_RETRIES", "0")
    monkeypatch.setenv("TRACKER_SOURCES__LESSWRONG__DELAY", "0")
    monkeypatch.setenv("TRACKER_CONTACT", "tests@example.invalid")
    for other in ("ALIGNMENTFORUM", "EAFORUM", "ARXIV", "FEEDS"):
        monkeypatch.setenv(f"TRACKER_SOURCES__{other}__ENABLED", "false")
    notes = Notes()
    app = status_app(engine)
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, StatusScreen)
        await pilot.press("s")
        await settle(pilot)
        [failed] = notes.titled("Sync finished with errors")
        assert failed.severity == "error" and "lesswrong: failed" in str(failed.message)
        assert screen.overview is not None
        [lesswrong] = [s for s in screen.overview.sources if s.name == "lesswrong"]
        assert lesswrong.error and "(failed)" in lesswrong.last_sync
        row = screen.query_one("#sources", DataTable).get_row("lesswrong")
        assert str(row[5]).rstrip("…") in lesswrong.error
        assert lesswrong.error.split(": ", 1)[1][:20] in \
            text_of(screen, "#source-error")
        await pilot.press("r")
        await settle(pilot)
        assert app.is_running
