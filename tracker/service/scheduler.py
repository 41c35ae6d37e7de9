"""`tracker serve`: scheduled syncs, index updates and the weekly digest (APScheduler 3.x).

Jobs live in a SQLAlchemy job store in the tracker database (table `apscheduler_jobs`), so
a restarted service knows what it missed: with `coalesce` a source that missed several runs
while the service was down syncs once, then keeps its schedule. Each job runs at most once
at a time (`max_instances=1`). SIGTERM or Ctrl-C sets a stop flag that a running sync checks
after committing each page; the service then exits 0 and the next start resumes from the
saved cursor.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, inspect, text

from tracker.config import FORUM_SOURCES, ApiSourceSettings, Settings, source_names
from tracker.errors import ConfigError
from tracker.models import DEFAULT_READER

if TYPE_CHECKING:
    from tracker.index.base import Embedder

log = logging.getLogger(__name__)

JOB_TABLE = "apscheduler_jobs"
DIGEST_JOB = "digest"
SCHEDULER_LOCK = "tracker serve: scheduler"  # the advisory lock one service per database holds
_STOP = threading.Event()
_INDEX_LOCK = threading.Lock()
_INDEX_SLICE = 2048  # passages embedded between two checks of the stop flag (~30 s on CPU)


@dataclass
class _Runtime:
    engine: Engine
    settings: Settings


_RUNTIME: _Runtime | None = None


class StopRequested(Exception):
    """Raised between two pages of a sync when the service is stopping."""


def _runtime() -> _Runtime:
    if _RUNTIME is None:
        raise RuntimeError("scheduled jobs run only inside `tracker serve`")
    return _RUNTIME


# --- the jobs (the job store refers to these by name: "tracker.service.scheduler:run_sync") --


def run_sync(name: str) -> None:
    """Sync one source, stopping after the current page if the service is stopping."""
    from tracker.sync.sources import sync_source

    runtime = _runtime()
    if _STOP.is_set():
        return

    def stop_between_pages(*_: Any) -> None:
        if _STOP.is_set():
            raise StopRequested

    log.info("sync %s: starting", name)
    try:
        report = sync_source(runtime.engine, runtime.settings, name, on_batch=stop_between_pages)
    except StopRequested:
        log.warning("sync %s: stopped after committing the current page; the next start "
                    "resumes", name)
        return
    counts = report.counts
    if report.error:
        log.error("sync %s: %s", name, report.error)
    log.info("sync %s: %s · %d new, %d updated", name, report.status, counts.new, counts.updated)
    if report.status == "ok" and runtime.settings.backfill.enabled and name in FORUM_SOURCES:
        counts.add(_backfill_slice(runtime, name, stop_between_pages))
    if runtime.settings.schedule.index and (counts.new or counts.updated):
        run_index()


def _backfill_slice(runtime: _Runtime, name: str, hook: Any) -> Any:
    """A few pages of `name`'s history, at a low CPU priority, after its incremental sync."""
    from tracker import store
    from tracker.sync.backfill import backfill_source

    thread = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, thread)
    with suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, thread, min(before + 10, 19))  # this thread only
    try:
        report = backfill_source(runtime.engine, runtime.settings, name,
                                 pages=runtime.settings.backfill.pages, on_batch=hook)
    except StopRequested:
        log.warning("backfill %s: stopped after committing the current page", name)
        return store.UpsertCounts()
    finally:
        # Lowering is always allowed, raising back may not be: then the pool thread stays nice.
        with suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, thread, before)
    if report.error:
        log.error("backfill %s: %s", name, report.error)
    log.info("backfill %s: %s · %d new", name, report.status, report.counts.new)
    return report.counts


def run_index() -> None:
    """Bring the search index up to date (one index run at a time)."""
    from tracker.search.indexing import make_embedder

    runtime = _runtime()
    with _INDEX_LOCK:
        try:
            documents, embedded = index_in_slices(runtime.engine, runtime.settings,
                                                  make_embedder(runtime.settings), _STOP)
        except Exception as e:  # the service goes on; the next sync retries the index
            log.error("index: %s: %s", e.__class__.__name__, e)
            return
    log.info("index: %d documents split, %d passages embedded", documents, embedded)


def index_in_slices(engine: Engine, settings: Settings, embedder: Embedder,
                    stop: threading.Event, size: int = _INDEX_SLICE) -> tuple[int, int]:
    """Index in slices of `size` passages, checking `stop` between them, so that a stopping
    service waits for one slice at most. Returns documents split and passages embedded."""
    from tracker.search.indexing import index_documents

    documents = embedded = 0
    while not stop.is_set():
        report = index_documents(engine, settings, embedder=embedder, limit=size)
        documents, embedded = documents + report.documents, embedded + report.embedded
        if not report.pending:
            break
    return documents, embedded


def run_digest() -> None:
    """Build every registered reader's digest of the week just ended; mail the `default`
    reader's when `digest.email_to` is set (readers have no addresses of their own yet)."""
    from tracker import paths, store
    from tracker.service.digest import previous_week
    from tracker.store.engine import session_scope

    runtime = _runtime()
    week = previous_week(datetime.now(UTC), runtime.settings.digest.timezone)
    with session_scope(runtime.engine) as session:
        readers = [r.name for r in store.list_readers(session=session)]
    for reader in readers:
        if _STOP.is_set():
            return
        _reader_digest(runtime, week, reader, paths.data_dir())


def _reader_digest(runtime: _Runtime, week: str, reader: str, data_dir: Path) -> None:
    """One reader's digest; a failure is logged and the next reader's still runs."""
    from tracker.errors import TrackerError
    from tracker.service.publish import make_digest

    email = bool(runtime.settings.digest.recipients) and reader == DEFAULT_READER
    try:
        outcome = make_digest(runtime.engine, runtime.settings, week, out=None, email=email,
                              data_dir=data_dir, reader=reader)
    except TrackerError as e:
        log.error("digest %s (%s): %s", week, reader, e.msg)
        return
    log.info("digest %s (%s): %d items in %s%s", week, reader, outcome.items,
             outcome.written.html, f"; {outcome.mail_error}" if outcome.mail_error else "")


# --- the service -----------------------------------------------------------------------------


def triggers(settings: Settings) -> dict[str, Any]:
    """The trigger of every job the configuration asks for, by job id."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    found: dict[str, Any] = {}
    schedule = settings.schedule
    for name in source_names():
        plan = schedule.of(name)
        if not (plan.enabled and settings.source(name).enabled):
            continue
        if plan.cron:
            found[f"sync:{name}"] = CronTrigger.from_crontab(plan.cron, timezone=schedule.timezone)
        else:
            found[f"sync:{name}"] = IntervalTrigger(seconds=plan.interval or 3600,
                                                    timezone=UTC)
    digest = settings.digest
    hour, minute = (int(part) for part in digest.time.split(":"))
    found[DIGEST_JOB] = CronTrigger(day_of_week=digest.weekday, hour=hour, minute=minute,
                                    timezone=digest.timezone)
    return found


def _signature(trigger: Any) -> str:
    return f"{type(trigger).__name__}:{trigger}:{getattr(trigger, 'timezone', '')}"


def _plan_jobs(scheduler: Any, settings: Settings) -> None:
    """Add, change or remove jobs to match the configuration; unchanged jobs keep their
    stored next run time (that is how a restart knows what it missed)."""
    wanted = triggers(settings)
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            scheduler.remove_job(job.id)
    now = datetime.now(UTC)
    for job_id, trigger in wanted.items():
        existing = scheduler.get_job(job_id)
        if existing is not None and _signature(existing.trigger) == _signature(trigger):
            continue
        kind, _, name = job_id.partition(":")
        options: dict[str, Any] = {}
        if kind == "sync" and type(trigger).__name__ == "IntervalTrigger":
            options["next_run_time"] = now  # a new interval schedule syncs at once
        scheduler.add_job(
            f"tracker.service.scheduler:{'run_sync' if kind == 'sync' else 'run_digest'}",
            trigger, args=[name] if kind == "sync" else [], id=job_id, name=job_id,
            replace_existing=True, **options,
        )


def check_service(settings: Settings) -> None:
    """Errors that should stop the service at start, not at the first digest."""
    try:
        triggers(settings)
    except ValueError as e:
        raise ConfigError(f"Bad schedule in config.toml or TRACKER_SCHEDULE__*: {e}") from e
    _warn_impolite(settings)
    if settings.digest.recipients:
        from tracker.service.mailer import check_mail_settings

        check_mail_settings(settings.digest, connect=True)


_POLITE_INTERVAL = 900  # seconds; more often than this buys little and costs the site


def _warn_impolite(settings: Settings) -> None:
    """Warn about schedules that would poll a public site more than every 15 minutes."""
    from urllib.parse import urlsplit

    for name in source_names():
        plan, source = settings.schedule.of(name), settings.source(name)
        if not isinstance(source, ApiSourceSettings):
            continue  # feeds: one request per feed, each on its own host
        host = urlsplit(source.endpoint or "").hostname or ""
        local = host in {"127.0.0.1", "localhost", "::1"}
        if plan.enabled and source.enabled and not plan.cron and not local \
                and (plan.interval or 0) < _POLITE_INTERVAL:
            log.warning("schedule.%s.interval is %g s: please sync a public site at most every "
                        "%d s", name, plan.interval or 0, _POLITE_INTERVAL)


def serve(engine: Engine, settings: Settings, *, check: bool = True) -> None:
    """Run the scheduler until SIGTERM or Ctrl-C; then finish the current page and return.

    `check=False` skips `check_service` (the caller ran it already)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    if check:
        check_service(settings)
    lock = _single_instance(engine)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
        executors={"default": _executor(max_workers=4)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": int(settings.schedule.misfire_grace)},
        timezone=UTC,
    )
    previous = _install_signals()
    try:
        _start_jobs(engine, settings)
        scheduler.start(paused=True)
        _plan_jobs(scheduler, settings)
        scheduler.resume()
        log.info("running (pid %d); SIGTERM or Ctrl-C stops it", os.getpid())
        for job_id, when in next_runs(engine):
            log.info("%s: next run %s", job_id, f"{when:%Y-%m-%d %H:%M:%S %Z}" if when else "-")
        while not _STOP.wait(0.2):
            pass
        log.warning("stopping: waiting for running jobs to commit their current page")
    finally:
        _STOP.set()
        if scheduler.running:
            scheduler.pause()
            scheduler.shutdown(wait=True)
        _restore_signals(previous)
        _end_jobs()
        lock.close()


@contextmanager
def job_context(engine: Engine, settings: Settings) -> Iterator[None]:
    """Let the scheduled jobs run in this process (what `serve` sets up around the scheduler)."""
    _start_jobs(engine, settings)
    try:
        yield
    finally:
        _end_jobs()


def _start_jobs(engine: Engine, settings: Settings) -> None:
    global _RUNTIME
    _RUNTIME = _Runtime(engine, settings)
    _STOP.clear()


def _end_jobs() -> None:
    global _RUNTIME
    _RUNTIME = None


def _executor(max_workers: int) -> Any:
    """APScheduler's thread pool, quiet about a run due just as the service stops.

    A job-processing pass that began before `shutdown()` may submit to the closed pool
    (APScheduler logs that with a traceback); such a run would return at once anyway.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor

    class StoppingExecutor(ThreadPoolExecutor):  # type: ignore[misc]
        def _do_submit_job(self, job: Any, run_times: Any) -> None:
            if _STOP.is_set():
                return
            try:
                super()._do_submit_job(job, run_times)
            except RuntimeError:
                if not _STOP.is_set():
                    raise

    return StoppingExecutor(max_workers=max_workers)


def _single_instance(engine: Engine) -> IO[str] | Connection:
    """Hold the database's scheduler lock so that two services never sync the same sources:
    a PostgreSQL advisory lock (services on several hosts share the database), else a file
    lock beside the SQLite file. Closing what is returned releases it."""
    if engine.dialect.name == "postgresql":
        from tracker.store.engine import try_advisory_lock

        held = try_advisory_lock(engine, SCHEDULER_LOCK)
        if held is None:
            raise ConfigError("Another `tracker serve` is already running on this PostgreSQL "
                              "database (it holds the scheduler's advisory lock); stop it "
                              "first, or run this one without `serve`")
        return held
    import fcntl

    from tracker import paths

    url = engine.url
    name = f"serve-{hashlib.sha256(str(url).encode()).hexdigest()[:12]}.lock"
    path = paths.data_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        handle.close()
        raise ConfigError(f"Another `tracker serve` (pid {pid}) is already running on this "
                          f"database; stop it first (lock: {path})") from e
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _install_signals() -> dict[int, Any]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        _STOP.set()

    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def stop() -> None:
    """Ask a running `serve` in this process to stop (as SIGTERM does)."""
    _STOP.set()


def next_runs(engine: Engine) -> list[tuple[str, datetime | None]]:
    """Each scheduled job and its next run time (None: paused), as the job store has them."""
    if JOB_TABLE not in inspect(engine).get_table_names():
        return []
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, next_run_time FROM {JOB_TABLE} ORDER BY id"))
        return [(row[0], datetime.fromtimestamp(row[1], UTC) if row[1] is not None else None)
                for row in rows]

