"""The team load test on a real PostgreSQL: 8 readers search and tag while `tracker serve`'s
sync job (over HTTP from the local ForumMagnum server, which edits and publishes posts as it
runs) and index runs write: bench/team_load.py's `run_load`, the same code, 8 s over 80
corpus posts here instead of the bench's 60 s over 180, so the module stays under ~20 s.
Latencies are printed by the bench, never asserted; what is asserted is what a team must be
able to count on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.team_load import LoadReport, print_report, run_load
from tests.conftest import fresh_pg_database

pytestmark = pytest.mark.postgres

READERS, SECONDS, DOCS = 8, 8.0, 80


@pytest.fixture(scope="module")
def load(pg_server: str, shared: Path, tmp_path_factory: pytest.TempPathFactory) -> LoadReport:
    """One load run for the module (it takes ~20 s), on a database of its own."""
    import time

    home = tmp_path_factory.mktemp("team-home")
    began = time.perf_counter()
    # The keyword replica lives in TRACKER_HOME's data directory.
    with fresh_pg_database(pg_server, "load_") as url, pytest.MonkeyPatch.context() as env:
        env.setenv("TRACKER_HOME", str(home))
        report = run_load(url, shared, readers=READERS, seconds=SECONDS, docs=DOCS)
    print_report(report, READERS, SECONDS)
    print(f"the load fixture took {time.perf_counter() - began:.1f} s")
    return report


def test_every_reader_worked_and_errors_stay_rare(load: LoadReport) -> None:
    assert load.operations() > 0
    for op in ("search", "tag", "claim list"):
        assert load.latencies[op], f"no {op} completed"
    assert load.latencies["accept"] or load.latencies["reject"]
    # Generous: under 1% errors and no operation stuck for 10 s; the writers never failed.
    assert len(load.errors) <= load.operations() // 100, load.errors[:5]
    assert not [e for e in load.errors if e.startswith(("sync:", "index:"))]
    assert load.stalls() == 0


def test_the_writers_wrote_while_readers_read(load: LoadReport) -> None:
    assert load.sync_rounds >= 1
    assert load.index_runs >= 1


def test_the_sync_brought_the_forums_edits_and_new_posts(load: LoadReport) -> None:
    """The writer is serve's sync job over HTTP: the forum server's edits and new posts (two
    a round) reached the store."""
    assert load.edited_documents >= 1
    assert load.new_documents >= 1
    assert load.missing_documents == []


def test_every_label_is_present_exactly_once_with_its_last_status(load: LoadReport) -> None:
    assert len(load.written) >= READERS  # each reader labelled something
    assert {reader for reader, _ in load.written.values()} == {
        f"reader{i}" for i in range(READERS)}
    assert load.label_problems == []


def test_no_document_is_stored_twice(load: LoadReport) -> None:
    assert load.duplicate_documents == []


def test_one_scheduler_per_database(load: LoadReport) -> None:
    assert (load.schedulers_running, load.schedulers_refused) == (1, 1)
