"""The digests screen, driven by keys: last week's digest built and shown, any week opened by
typing it, earlier digests picked from the list, a bad week refused with a notification."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.widgets import Markdown, OptionList
from textual.widgets.markdown import MarkdownBlock

from tracker.config import load_settings
from tracker.service.digest import previous_week
from tracker.tui.app import TrackerApp
from tracker.tui.screens.digests import DigestsScreen
from tracker.workbench import Workbench

from .conftest import SIZE
from .pilots import settle

WEEK = "2025-W42"
"""A week of the sample corpus with a much-discussed post."""




async def open_digests(pilot: Pilot[None]) -> DigestsScreen:
    await pilot.press("f5")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, DigestsScreen)
    return screen


def shown(screen: DigestsScreen) -> str:
    return screen.query_one("#digest", Markdown).source


def listed(screen: DigestsScreen) -> list[str | None]:
    listing = screen.query_one("#digest-list", OptionList)
    return [listing.get_option_at_index(i).id for i in range(listing.option_count)]


async def test_last_weeks_digest_is_built_and_shown(
        app: TrackerApp, workbench: Workbench) -> None:
    week = previous_week(datetime.now(UTC), load_settings().digest.timezone)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_digests(pilot)
        assert screen.week is None and "No digest yet" in shown(screen)
        await pilot.press("b")
        await settle(pilot)
        assert screen.week == week
        assert shown(screen).startswith(f"# tracker digest {week}")
        assert listed(screen) == [week]
    assert [d.week for d in workbench.digests()] == [week]


async def test_a_typed_week_opens_and_the_list_switches_between_weeks(
        app: TrackerApp, workbench: Workbench) -> None:
    workbench.digest("2025-W40")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_digests(pilot)
        assert screen.week == "2025-W40"  # the newest built digest opens by itself
        await pilot.press("w", *WEEK.lower(), "enter")
        await settle(pilot)
        assert screen.week == WEEK
        text = shown(screen)
        assert "## Most discussed threads" in text and "Recontextualization Mitigates" in text
        headings = [str(h.content) for h in screen.query("MarkdownH2").results(MarkdownBlock)]
        assert "Most discussed threads" in headings
        assert listed(screen) == [WEEK, "2025-W40"]
        await pilot.press("down")
        await settle(pilot)
        assert screen.week == "2025-W40" and "# tracker digest 2025-W40" in shown(screen)


async def test_a_bad_week_is_a_notification(app: TrackerApp) -> None:
    notes: list[Notification] = []

    def hook(message: Message) -> None:
        if isinstance(message, Notify) and message.notification not in notes:
            notes.append(message.notification)

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        screen = await open_digests(pilot)
        await pilot.press("w", *"2025-W99", "enter")
        await settle(pilot)
        assert screen.week is None and app.is_running
        [error] = [n for n in notes if n.severity == "error"]
        assert "'2025-W99' is not an ISO week" in str(error.message)
