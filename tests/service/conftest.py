"""Fixtures for the service tests: the local ForumMagnum server and a tracker subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import REPO, SHARED
from tests.servers.forum import ForumServer, Site, sample_sites


@pytest.fixture
def forum(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForumServer]:
    """The forum server with the sample corpus; only LessWrong is scheduled, indexing off."""
    data = sample_sites(SHARED / "corpus")
    lw, ea = data["lesswrong"], data["eaforum"]
    with ForumServer(sites=[Site.lesswrong(lw), Site.eaforum(ea)]) as srv:
        monkeypatch.setenv("TRACKER_SOURCES__LESSWRONG__ENDPOINT", srv.site_url("lesswrong"))
        monkeypatch.setenv("TRACKER_SOURCES__LESSWRONG__DELAY", "0")
        monkeypatch.setenv("TRACKER_SOURCES__LESSWRONG__FIRST_SYNC_DAYS", "20000")
        monkeypatch.setenv("TRACKER_SOURCES__LESSWRONG__PAGE_SIZE", "25")
        monkeypatch.setenv("TRACKER_CONTACT", "tests@example.invalid")
        for other in ("ALIGNMENTFORUM", "EAFORUM", "ARXIV", "FEEDS"):
            monkeypatch.setenv(f"TRACKER_SOURCES__{other}__ENABLED", "false")
        monkeypatch.setenv("TRACKER_SCHEDULE__INDEX", "false")
        yield srv


def start_serve(*args: str) -> subprocess.Popen[str]:
    """`tracker serve` in a subprocess with the test's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "tracker", "serve", *args], cwd=REPO, env=dict(os.environ),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
