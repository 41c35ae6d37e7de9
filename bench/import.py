"""`tracker import` of the whole real corpus into a fresh SQLite store, then the keyword index
over it, and the per-request cost of a backfill against the local forum server.

    .venv/bin/python bench/import.py [--skip-split] [--backfill]

Reported: documents per second per file and overall (read, parse, normalise HTML, extract
links, upsert with aliases and link resolution, commit), the seconds until every imported
document is split into passages (keyword-searchable), a keyword query over the result, and
(with --backfill) seconds per page of 100 documents for `tracker backfill` with no delay.
Each file gets the CPU seconds of the writing process, all files together those of the parse
workers (one pool for the three files, as `tracker import a b c` has), and the load average is
printed before and after: on a shared machine the wall clock alone misleads.

Measured 2026-12-06 (SQLite, 2 CPUs shared with four other developers' jobs, load average
13–19 throughout: no free core could be had), the previous import path (dd9aaf0, run from a
copy with its own bench) and this one back to back, four pairs: all 47,070 documents at
641/729/729/588 docs/s before and 698/589/885/584 after; wall time under that load says
little (our three processes get a share of a crowded machine). CPU says more: writer
11.8–12.3 s before, 9.4–10.6 after; parse workers 9.8–10.1 before, 9.7–10.3 after (they now
also convert the first chunk the writer used to, and start once instead of once per file);
together 21.9–22.4 CPU-s before, 19.1–20.9 after. With two free cores that bounds the import
at ~47,070 / (20 / 2) ≈ 4,700/s, so the 5,000/s goal is not reached. Where the writer's ~10
CPU-s go (thread CPU, one run, load ~14): upsert 6.2 (insert 1.6, cross-posts 1.2, authors
0.5–1.0, link resolution 0.5, links 0.5, row values 0.4, aliases 0.35, id lookup 0.3), rebuilding
the workers' documents 1.4, commits 0.7, reading and gunzip ~0.5, the rest receiving chunks.
The parse workers' ~10 s is mostly HTML→text of the 6,994 posts with 99 MB of HTML.

Measured 2026-12-06 again (load 6.7–7.6), main (c64b5f9, from a `git archive` copy) and the
htmlfast branch back to back, two pairs: writer 8.6/9.4 CPU-s before, 7.1/6.8 after (the
collector: 1.9 → 0.2 s; documents restored without `__setstate__`: ~0.4 s); parse workers
9.1/9.4 before, 9.2/8.9 after (the renderer is ~15% cheaper, bench/html_speed.py, but the
workers' ~1.4 s of imports and their JSON and validation are unchanged); together 17.7/18.8
before, 16.3/15.7 after. Wall: 1,798/1,730 docs/s before, 1,938/2,093 after, on a crowded
machine. Two free cores bound it at max(writer, total / 2) ≈ 7.9–8.2 s ≈ 5,700–6,000/s if the
pipeline keeps both busy; if the parse workers (~9 CPU-s) effectively get one core, ~5,200/s.
5,000/s itself was not measured: no free core could be had. HTML→text alone (html_speed.py,
load 4.6): 4.27 CPU-s before, 3.60 after, 0 of 6,994 outputs differing.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
FILES = ("posts.jsonl.gz", "papers.jsonl", "comments.jsonl")


def bench_import(home: Path, split: bool) -> None:
    """Import the three corpus files with the real code, then split, then one query."""
    os.environ["TRACKER_HOME"] = str(home)
    from tracker.config import load_settings
    from tracker.store.engine import make_engine
    from tracker.sync.importer import import_file, parse_pool

    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url)
    total_docs, total_seconds = 0, 0.0
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    start = _cpu()
    # One pool of parse workers for the three files, as `tracker import a b c` has: their CPU
    # is known once they exit, so it is printed for all files together.
    with parse_pool() as pool:
        for name in FILES:
            before = _cpu()[0]
            report = import_file(engine, CORPUS / name, pool=pool)
            total_docs += report.documents
            total_seconds += report.seconds
            print(f"{name}: {report.lines} lines, {report.documents} documents in "
                  f"{report.seconds:.1f} s = {report.documents / report.seconds:,.0f}/s; "
                  f"CPU {_cpu()[0] - before:.1f} s writer; skipped {dict(report.skipped)}")
    writer, workers = (after - first for after, first in zip(_cpu(), start, strict=True))
    print(f"all files: {total_docs} documents in {total_seconds:.1f} s = "
          f"{total_docs / total_seconds:,.0f} documents/s; CPU {writer:.1f} s writer + "
          f"{workers:.1f} s parse workers (load average after: {os.getloadavg()[0]:.1f})")
    if split:
        from tracker.search.indexing import split_documents

        started = time.perf_counter()
        report = split_documents(engine, settings)
        print(f"split into passages (keyword index follows): {report.documents} documents, "
              f"{report.passages_added} passages in {time.perf_counter() - started:.1f} s")
        from tracker.index.backends import open_keyword_index
        from tracker.index.base import SearchFilters

        keyword = open_keyword_index(engine)
        started = time.perf_counter()
        hits = keyword.search("mesa optimizer inner alignment", 10, SearchFilters())
        print(f"keyword query right after: {len(hits)} hits in "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")
        from tracker.store.coverage import passages_by_priority
        from tracker.store.engine import session_scope

        started = time.perf_counter()
        with session_scope(engine) as session:
            passages_by_priority(session=session, model=settings.index.model, limit=512)
        print(f"next 512 passages to embed, by priority: "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process (reading, writing) and of its finished worker processes
    (JSON and HTML): on a shared machine these say more than the wall clock."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def bench_backfill(home: Path) -> None:
    """Seconds per backfill page against the local server (the sample corpus, no delay)."""
    from bench.ingest import start_server

    process, urls = start_server("0:2")
    try:
        env = {**os.environ, "TRACKER_HOME": str(home / "backfill")}
        for name in ("LESSWRONG", "EAFORUM"):
            env[f"TRACKER_SOURCES__{name}__ENDPOINT"] = urls[name.lower()]
            env[f"TRACKER_SOURCES__{name}__DELAY"] = "0"
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "tracker", "backfill", "eaforum"],
                                cwd=REPO, env=env, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - started
        pages = result.stderr.count("\n")
        print(f"backfill eaforum from the local server: {pages} pages in {seconds:.1f} s = "
              f"{seconds / max(pages, 1):.2f} s per page beyond the delay")
        print(result.stdout.strip().splitlines()[-1])
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    """Run the import benchmark (and the backfill one with --backfill)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-split", action="store_true")
    parser.add_argument("--backfill", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tracker-import-bench-") as tmp:
        bench_import(Path(tmp), split=not args.skip_split)
        if args.backfill:
            bench_backfill(Path(tmp))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
