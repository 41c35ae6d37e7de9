"""Fixtures for the source tests: corpus posts served as feeds, a SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.servers.feeds import FeedServer, load_posts
from tracker.store.engine import make_engine


@pytest.fixture(scope="session")
def posts(shared: Path) -> list[dict[str, object]]:
    return load_posts(shared / "corpus")


@pytest.fixture
def server(posts: list[dict[str, object]]) -> Iterator[FeedServer]:
    with FeedServer(posts) as running:
        yield running


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'feeds.db'}")
    yield engine
    engine.dispose()
