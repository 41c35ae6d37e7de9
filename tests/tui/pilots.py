"""Driving the app in Pilot tests: waiting for workers, catching notifications."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress

from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed, WorkerState


async def settle(pilot: Pilot[None]) -> None:
    """Wait until no worker runs and their results are on screen."""
    for _ in range(200):
        for worker in list(pilot.app.workers):
            with suppress(WorkerCancelled, WorkerFailed):  # failures are notified, not raised
                await worker.wait()
        await pilot.pause()
        if not any(w.state in (WorkerState.PENDING, WorkerState.RUNNING)
                   for w in pilot.app.workers):
            return
    raise AssertionError("workers kept running")


async def wait_until(pilot: Pilot[None], done: Callable[[], bool], what: str,
                     deadline: float = 60.0) -> None:
    """Let the app run, a message-loop turn at a time, until `done()` holds; fail naming
    `what` if it never does (`deadline` seconds: generous, only a hung app reaches it)."""
    give_up = time.monotonic() + deadline
    while not done():
        if time.monotonic() > give_up:
            raise AssertionError(f"{what} never happened (waited {deadline:g} s)")
        await pilot.pause()


class Notes:
    """The notifications the app shows, caught by the Pilot's message hook."""

    def __init__(self) -> None:
        self.shown: list[Notification] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, Notify) and message.notification not in self.shown:
            self.shown.append(message.notification)

    def titled(self, title: str) -> list[Notification]:
        return [n for n in self.shown if n.title == title]
