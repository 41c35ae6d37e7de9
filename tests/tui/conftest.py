"""TUI fixtures: a store synced from the forum test server (the real sample corpus with comment
threads), indexed with the hash embedder, copied for each test; the app from `make_app`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.index.conftest import HashEmbedder
from tests.servers.forum import ForumServer, Site, sample_sites
from tracker.config import load_settings
from tracker.search.indexing import index_documents
from tracker.store.engine import make_engine
from tracker.sync.sources import sync_source
from tracker.tui.app import TrackerApp
from tracker.workbench import Workbench, make_app

SIZE = (120, 36)
"""The terminal size of every Pilot and snapshot test."""


def point_at(mp: pytest.MonkeyPatch, server: ForumServer) -> None:
    """Settings for syncing LessWrong and the EA Forum from the test server, nothing else."""
    for name, site in (("LESSWRONG", "lesswrong"), ("EAFORUM", "eaforum")):
        mp.setenv(f"TRACKER_SOURCES__{name}__ENDPOINT", server.site_url(site))
        mp.setenv(f"TRACKER_SOURCES__{name}__DELAY", "0")
        mp.setenv(f"TRACKER_SOURCES__{name}__FIRST_SYNC_DAYS", "20000")
    mp.setenv("TRACKER_CONTACT", "tests@example.invalid")
    for other in ("ALIGNMENTFORUM", "ARXIV", "FEEDS"):
        mp.setenv(f"TRACKER_SOURCES__{other}__ENABLED", "false")


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Path:
    """A TRACKER_HOME holding the synced and indexed sample corpus (built once per run)."""
    home = tmp_path_factory.mktemp("seeded") / "home"
    sites = sample_sites(shared / "corpus")
    with ForumServer(sites=[Site.lesswrong(sites["lesswrong"]),
                            Site.eaforum(sites["eaforum"])]) as server, \
            pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRACKER_HOME", str(home))
        point_at(mp, server)
        settings = load_settings()
        engine = make_engine(settings.sqlalchemy_url)
        try:
            for name in ("lesswrong", "eaforum"):
                report = sync_source(engine, settings, name)
                assert report.status == "ok", report.error
            index_documents(engine, settings, embedder=HashEmbedder())
        finally:
            engine.dispose()
    return home


@pytest.fixture
def home(seeded_template: Path, tmp_path: Path) -> Path:
    """This test's TRACKER_HOME (set by the autouse fixture): a copy of the seeded store."""
    target = tmp_path / "home"
    shutil.copytree(seeded_template, target)
    return target


@pytest.fixture
def engine(home: Path) -> Iterator[Engine]:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def workbench(engine: Engine) -> Workbench:
    """The Library the app gets, over this test's store."""
    return Workbench(engine, load_settings(), embedder=HashEmbedder())


@pytest.fixture
def app(engine: Engine) -> TrackerApp:
    """The app as `tracker tui` builds it, with the hash embedder for queries."""
    return make_app(engine, load_settings(), embedder=HashEmbedder())


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes snapshots flaky."""
    from textual.widgets import Input

    monkeypatch.setattr(Input, "cursor_blink", False)
