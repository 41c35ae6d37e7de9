"""API fixtures: a store synced from the forum test server (the real sample corpus), indexed,
with one claim and a confirmed passage; `tracker api` / `tracker mcp` run as subprocesses."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.index.conftest import HashEmbedder
from tests.servers.forum import ForumServer, Site, sample_sites
from tests.tui.conftest import point_at
from tracker import store
from tracker.config import load_settings
from tracker.search.indexing import index_documents
from tracker.store.engine import make_engine, session_scope
from tracker.sync.sources import sync_source

TRACKER = str(Path(sys.executable).with_name("tracker"))


@dataclass
class Seeded:
    """The seeded TRACKER_HOME and facts about it the tests look for."""

    home: Path
    post_id: int
    post_title: str
    claim_id: int
    quote: str


def _pick_post(engine: object) -> tuple[int, str]:
    """A post with a distinctive title that cites at least one stored document."""
    from sqlmodel import select

    from tracker.models import Document

    with session_scope(engine) as session:  # type: ignore[arg-type]
        posts = session.exec(select(Document).where(Document.kind == "post")
                             .order_by(Document.id)).all()
        for post in posts:
            assert post.id is not None
            resolved = [r for r in store.outgoing_links(session=session, document_id=post.id)
                        if r.document is not None]
            if resolved and len(post.title.split()) >= 4 and len(post.body_text) > 2000:
                return post.id, post.title
    raise AssertionError("no post in the sample cites a stored document")


@pytest.fixture(scope="package")
def seeded(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Seeded:
    """Sync LW and EA from the sample corpus, index it, add a claim with one tagged quote."""
    home = tmp_path_factory.mktemp("api") / "home"
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
                assert sync_source(engine, settings, name).status == "ok"
            index_documents(engine, settings, embedder=HashEmbedder())
            post_id, title = _pick_post(engine)
            with session_scope(engine) as session:
                claim = store.add_claim(session=session, text="Optimising a proxy breaks it")
                doc = store.get_document(session=session, ref=str(post_id))
                quote = " ".join(doc.body_text.split()[5:17])
                assert claim.id is not None
                store.tag(session=session, claim_id=claim.id, document=doc, quote=quote,
                          stance="supports")
                claim_id = claim.id
        finally:
            engine.dispose()
    return Seeded(home, post_id, title, claim_id, quote)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a server subprocess over a copy of the seeded store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update({"TRACKER_HOME": str(home), "HF_HUB_OFFLINE": "1", **extra})
    return env


@dataclass
class Running:
    """A `tracker api` subprocess and its base URL."""

    url: str
    process: subprocess.Popen[str]
    home: Path


def start_api(seeded: Seeded, target: Path, **extra: str) -> Running:
    """`tracker api` on a free port over a copy of the seeded store, once it answers."""
    home = target / "home"
    shutil.copytree(seeded.home, home)
    port = free_port()
    process = subprocess.Popen([TRACKER, "api", "--port", str(port)], env=server_env(home, **extra),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"tracker api exited: {err}")
        try:
            httpx.get(f"{url}/v1/health", timeout=1)
            return Running(url, process, home)
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("tracker api did not answer within 120 s")


def stop(running: Running) -> str:
    """Stop the server; its stderr."""
    running.process.terminate()
    _, err = running.process.communicate(timeout=30)
    return err


@pytest.fixture(scope="module")
def api(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A read-only `tracker api` (the defaults)."""
    running = start_api(seeded, tmp_path_factory.mktemp("api-ro"))
    try:
        yield running
    finally:
        err = stop(running)
        assert "Traceback" not in err, err
