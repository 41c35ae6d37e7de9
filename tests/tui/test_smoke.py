"""The app as a whole: screens by F-keys, help, the palette, the index run at start, quitting."""

from __future__ import annotations

from sqlalchemy import Engine
from textual.message import Message
from textual.notifications import Notify

from tests.index.conftest import HashEmbedder
from tracker.config import load_settings
from tracker.tui.app import TrackerApp
from tracker.tui.screens.help import HelpScreen
from tracker.workbench import Workbench, make_app

from .conftest import SIZE
from .pilots import settle, wait_until
from .reading import insert_post


async def test_f_keys_switch_screens_and_f1_lists_their_keys(app: TrackerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.current_mode == "search"
        for key, mode in (("f3", "claims"), ("f4", "status"), ("f5", "digests"),
                          ("f2", "search")):
            await pilot.press(key)
            assert app.current_mode == mode
        await pilot.press("f4", "f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.rows)
        assert keys["s"] == "Sync sources" and keys["i"] == "Run the index"
        await pilot.press("escape")
        assert app.current_mode == "status" and not isinstance(app.screen, HelpScreen)


async def test_the_index_is_brought_up_to_date_at_start(engine: Engine,
                                                        workbench: Workbench) -> None:
    insert_post(engine, "fresh1", "A fresh post", "Corrigibility is hard. " * 50)
    assert workbench.overview().index.to_split == 1
    app = make_app(engine, load_settings(), embedder=HashEmbedder(), index_on_start=True)
    messages: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(pilot)
        await pilot.pause()
    index = workbench.overview().index
    assert index.to_split == 0 and index.to_embed == 0
    titles = [m.notification.title for m in messages if isinstance(m, Notify)]
    assert "Index run finished" in titles


async def test_nothing_to_index_at_start_says_nothing(engine: Engine) -> None:
    app = make_app(engine, load_settings(), embedder=HashEmbedder(), index_on_start=True)
    messages: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert app.job is not None and not app.job_running
    assert not [m for m in messages if isinstance(m, Notify)]


async def test_the_command_palette_switches_screens(app: TrackerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Claims")
        await wait_until(pilot, lambda: _palette_offers(app, "Claims"), "the Claims command")
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "claims"


def test_tui_refuses_without_a_terminal() -> None:
    from click.testing import CliRunner

    from tracker.cli import cli

    result = CliRunner().invoke(cli, ["tui"])
    assert result.exit_code == 1
    assert "`tracker tui` needs a terminal" in result.output
    assert "Traceback" not in result.output


async def test_an_empty_store_opens_every_screen() -> None:
    """First start before any sync: every screen opens and says what to do, nothing fails."""
    from tracker.store.engine import make_engine

    engine = make_engine(load_settings().sqlalchemy_url)
    app = make_app(engine, load_settings(), embedder=HashEmbedder(), index_on_start=True)
    messages: list[Message] = []
    try:
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            await pilot.press(*"alignment")
            await settle(pilot)
            await wait_until(pilot, lambda: "Nothing is indexed yet" in str(
                app.screen.query_one("#status").render()), "the not-indexed hint")
            for key in ("f3", "f4", "f5", "f2"):
                await pilot.press(key)
                await settle(pilot)
            assert app.is_running
    finally:
        engine.dispose()
    errors = [m.notification for m in messages
              if isinstance(m, Notify) and m.notification.severity == "error"]
    assert errors == []


def _palette_offers(app: TrackerApp, name: str) -> bool:
    """The command palette is open with a command called `name` highlighted."""
    from textual.command import CommandList, CommandPalette

    palette = app.screen
    if not isinstance(palette, CommandPalette):
        return False
    commands = palette.query_one(CommandList)
    index = commands.highlighted
    return index is not None and name in str(commands.get_option_at_index(index).prompt)
