"""One scheduler per database: a second `tracker serve` on the same store refuses to start,
on SQLite (a file lock) and on PostgreSQL (an advisory lock, so hosts sharing it agree)."""

from __future__ import annotations

import signal
import time

import pytest

from tests.servers.forum import ForumServer
from tests.service.conftest import start_serve
from tracker.config import load_settings
from tracker.service.scheduler import next_runs
from tracker.store.engine import make_engine


def _wait_until_scheduled(proc_poll: object, timeout: float = 60) -> None:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if next_runs(engine):
                return
            if proc_poll.poll() is not None:
                raise AssertionError("the service exited early: "
                                     + proc_poll.communicate()[1])
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError("the first service never scheduled its jobs")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres",
                                                            marks=pytest.mark.postgres)])
def test_a_second_service_on_the_same_database_refuses(
        backend: str, forum: ForumServer, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> None:
    if backend == "postgres":
        monkeypatch.setenv("TRACKER_DATABASE_URL", request.getfixturevalue("pg_url"))
    first = start_serve()
    try:
        _wait_until_scheduled(first)
        second = start_serve()
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2, err
        [line] = [x for x in err.splitlines() if x.strip()]
        assert "Another `tracker serve`" in line and "already running" in line
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    third = start_serve()  # the lock went with the first service
    try:
        _wait_until_scheduled(third)
    finally:
        third.send_signal(signal.SIGTERM)
        third.communicate(timeout=30)
