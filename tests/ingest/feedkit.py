"""Helpers for the feed tests: a client, settings pointing at the local feed server, the CLI."""

from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner

from tests.servers.feeds import FeedServer
from tracker.cli import cli
from tracker.config import FeedsSettings
from tracker.ingest.feedlist import FeedState, slug, state_stream
from tracker.ingest.feeds import FeedsSource
from tracker.ingest.http import make_client
from tracker.models import DocumentCreate


def client_for(max_bytes: int | None = 16_000_000) -> httpx.Client:
    return make_client("feeds", user_agent="tracker-tests (contact: tests@example.org)",
                       delay=0, timeout=10, max_retries=1, backoff=0, max_backoff=0,
                       max_bytes=max_bytes)


NAMES = {"/blog/rss.xml": "kaj", "/atom.xml": "stuart", "/feed": "ea-digest",
         "/crosspost/rss.xml": "originals"}


def feed_config(server: FeedServer, path: str) -> dict[str, str]:
    """A feed of the server, named after its path (names are otherwise the host's)."""
    return {"url": server.url(path), "name": NAMES.get(path) or slug(path)}


def feeds_settings(server: FeedServer, *paths: str, **overrides: object) -> FeedsSettings:
    feeds = [feed_config(server, p) for p in paths]
    return FeedsSettings.model_validate(
        {"feeds": feeds, "delay": 0, "max_retries": 1, "backoff": 0, **overrides})


def configure(monkeypatch: pytest.MonkeyPatch, server: FeedServer, *paths: str,
              **env: str) -> None:
    """Point the CLI at the server: only the feeds source, with these feeds."""
    for name in ("LESSWRONG", "ALIGNMENTFORUM", "EAFORUM", "ARXIV"):
        monkeypatch.setenv(f"TRACKER_SOURCES__{name}__ENABLED", "false")
    feeds = [feed_config(server, p) for p in paths]
    monkeypatch.setenv("TRACKER_SOURCES__FEEDS__FEEDS", json.dumps(feeds))
    monkeypatch.setenv("TRACKER_SOURCES__FEEDS__DELAY", "0")
    monkeypatch.setenv("TRACKER_SOURCES__FEEDS__BACKOFF", "0")
    monkeypatch.setenv("TRACKER_SOURCES__FEEDS__MAX_RETRIES", "1")
    for name, value in env.items():
        monkeypatch.setenv(f"TRACKER_SOURCES__FEEDS__{name.upper()}", value)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def fetch_all(source: FeedsSource, cursor: dict[str, str] | None = None,
              max_bytes: int | None = 16_000_000) -> tuple[list[DocumentCreate], dict[str, str]]:
    """Run a source to the end; the cursor values it would have saved."""
    docs: list[DocumentCreate] = []
    saved = dict(cursor or {})
    with client_for(max_bytes) as client:
        for batch in source.fetch(client, saved):
            docs += batch.documents
            saved.update(batch.cursor)
    return docs, saved


def state_of(saved: dict[str, str], url: str) -> FeedState:
    return FeedState.load(saved[state_stream(url)], url)
