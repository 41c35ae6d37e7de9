"""`tracker serve` as a subprocess against the local forum server: syncs happen on schedule,
never overlap, SIGTERM stops cleanly, and a killed service catches up once on restart."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import col, select

from tests.servers.forum import ForumServer
from tests.service.conftest import start_serve
from tracker.cli import cli
from tracker.config import load_settings
from tracker.models import Document, SyncRun
from tracker.service.scheduler import next_runs
from tracker.store.engine import make_engine, session_scope


def runs() -> list[SyncRun]:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            return list(session.exec(select(SyncRun).where(col(SyncRun.source) == "lesswrong")
                                     .order_by(col(SyncRun.id))).all())
    finally:
        engine.dispose()


def jobs() -> dict[str, datetime | None]:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        return dict(next_runs(engine))
    finally:
        engine.dispose()


def wait_for(check: Callable[[], bool], timeout: float,
             proc: subprocess.Popen[str] | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"tracker serve exited early: {proc.communicate()[1]}")
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str]:
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    return proc.returncode, err


def documents() -> set[str]:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            return set(session.exec(select(Document.native_id)).all())
    finally:
        engine.dispose()


def test_sigterm_mid_sync_is_clean_and_the_next_start_resumes(
    forum: ForumServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_SCHEDULE__LESSWRONG__INTERVAL", "0.3")
    # A slow first sync (longer than the interval) must not start a second one beside it.
    monkeypatch.setenv("TRACKER_SOURCES__LESSWRONG__DELAY", "0.05")
    proc = start_serve()
    try:
        wait_for(lambda: len(documents()) >= 50, 40, proc)  # a few pages are committed
        code, err = stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, err
    assert "stopped after committing the current page" in err
    assert "stopped cleanly" in err and "Traceback" not in err
    [run] = runs()
    assert run.status == "interrupted" and run.finished_at is not None
    partial = documents()
    served = forum.sites["lesswrong"].data
    expected = {p["_id"] for p in served.posts.values()
                if not p.get("isEvent") and not p.get("draft")}
    expected |= {c["_id"] for c in served.comments.values() if not c.get("deleted")}
    assert 50 <= len(partial) < len(expected)

    # Restarted, it resumes from the saved cursor and keeps syncing on schedule.
    monkeypatch.setenv("TRACKER_SOURCES__LESSWRONG__DELAY", "0")
    proc = start_serve()
    try:
        wait_for(lambda: sum(r.status == "ok" for r in runs()) >= 3, 40, proc)
        code, err = stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, err
    assert documents() == expected
    done = runs()
    assert all(r.status in {"ok", "interrupted"} for r in done)  # nothing left half-written
    for before, after in zip(done, done[1:], strict=False):
        assert before.finished_at is not None and after.started_at is not None
        assert after.started_at >= before.finished_at  # never two at once
    assert set(jobs()) == {"sync:lesswrong", "digest"}

    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 0
    assert "sync:lesswrong" in result.stdout and "next" in result.stdout
    data = json.loads(CliRunner().invoke(cli, ["status", "--json"]).stdout)
    assert {job["job"] for job in data["schedule"]} == {"sync:lesswrong", "digest"}


def test_killed_service_restarts_and_catches_up_once(
    forum: ForumServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    interval = 3.0
    monkeypatch.setenv("TRACKER_SCHEDULE__LESSWRONG__INTERVAL", str(interval))
    proc = start_serve()
    try:
        wait_for(lambda: any(r.status == "ok" for r in runs()), 30, proc)
        proc.kill()  # no clean shutdown: the job store keeps the old next run time
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = len(runs())
    stale = jobs()["sync:lesswrong"]
    assert stale is not None
    # down until the clock has passed three of its run times
    wait_for(lambda: datetime.now(UTC) > stale + timedelta(seconds=2 * interval), 60, None)
    assert jobs()["sync:lesswrong"] == stale
    restarted = datetime.now(UTC)
    proc = start_serve()
    try:
        wait_for(lambda: len(runs()) > before and runs()[-1].status == "ok", 30, proc)
        upcoming = jobs()["sync:lesswrong"]
        assert upcoming is not None and upcoming > restarted
        # once the next regular run is recorded, any extra catch-up run would be too
        wait_for(lambda: any(r.started_at is not None and r.started_at >= upcoming
                             and r.status == "ok" for r in runs()[before:]), 60, proc)
        caught_up = [r for r in runs()[before:]
                     if r.started_at is not None and r.started_at < upcoming]
        assert len(caught_up) == 1  # one catch-up run, not one per missed run
        second = CliRunner().invoke(cli, ["serve"])
        assert second.exit_code == 2 and "Another `tracker serve`" in second.stderr
        code, err = stop(proc, signal.SIGINT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, err


def test_bad_schedule_and_unreachable_smtp_fail_at_start(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_SCHEDULE__ARXIV__CRON", "0 25 * * *")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "schedule.arxiv.cron" in result.stderr and "0 25 * * *" in result.stderr
    monkeypatch.delenv("TRACKER_SCHEDULE__ARXIV__CRON")

    monkeypatch.setenv("TRACKER_DIGEST__TIMEZONE", "Europe/Nowhere")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2 and "unknown timezone 'Europe/Nowhere'" in result.stderr
    monkeypatch.delenv("TRACKER_DIGEST__TIMEZONE")

    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("TRACKER_DIGEST__EMAIL_TO", "me@example.invalid")
    monkeypatch.setenv("TRACKER_DIGEST__SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TRACKER_DIGEST__SMTP_PORT", str(port))
    monkeypatch.setenv("TRACKER_DIGEST__SMTP_SECURITY", "none")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert f"Cannot reach the SMTP server 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_digest_schedule_follows_weekday_time_and_timezone(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.service.scheduler import triggers

    monkeypatch.setenv("TRACKER_DIGEST__WEEKDAY", "fri")
    monkeypatch.setenv("TRACKER_DIGEST__TIME", "7:30")
    monkeypatch.setenv("TRACKER_DIGEST__TIMEZONE", "America/New_York")
    monkeypatch.setenv("TRACKER_SCHEDULE__ARXIV__CRON", "0 6 * * *")
    monkeypatch.setenv("TRACKER_SCHEDULE__FEEDS__ENABLED", "false")
    found = triggers(load_settings())
    assert "sync:feeds" not in found and "sync:lesswrong" in found
    after = datetime(2026, 2, 9, tzinfo=UTC)  # a Monday
    digest = found["digest"].get_next_fire_time(None, after)
    assert digest == datetime(2026, 2, 13, 12, 30, tzinfo=UTC)  # Friday 07:30 EST
    assert found["sync:arxiv"].get_next_fire_time(None, after) == datetime(
        2026, 2, 9, 6, tzinfo=UTC)
