"""Fixtures for the ForumMagnum test server's own tests: the real sample corpus served over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.servers.forum import (
    EAFORUM_ORIGIN,
    ForumData,
    ForumServer,
    Site,
    build_comment_threads,
    load_comment_texts,
    load_corpus_posts,
    make_same_timestamp_posts,
    split_by_site,
)
from tests.servers.gql import (
    CORPUS,
    SAME_TS,
    UA,
)

# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> dict[str, list[dict[str, Any]]]:
    if not (CORPUS / "MANIFEST.md").is_file():
        pytest.fail(f"The shared corpus is missing at {CORPUS}; these tests serve its real data.")
    return split_by_site(load_corpus_posts(CORPUS / "sample" / "posts_sample.jsonl"))


@pytest.fixture(scope="module")
def threads(sample: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    texts = load_comment_texts(CORPUS, sample["lesswrong"] + sample["eaforum"])
    return {
        site: build_comment_threads(posts, seed=7, texts=texts) for site, posts in sample.items()
    }


def make_data(
    sample: dict[str, list[dict[str, Any]]], threads: dict[str, list[dict[str, Any]]]
) -> tuple[ForumData, ForumData]:
    lw = ForumData(sample["lesswrong"])
    lw.add_comments(threads["lesswrong"])
    lw.add_posts(make_same_timestamp_posts(250, SAME_TS, sample["lesswrong"][:40]))
    ea = ForumData(sample["eaforum"], origin=EAFORUM_ORIGIN)
    ea.add_comments(threads["eaforum"])
    return lw, ea


@pytest.fixture(scope="module")
def server(
    sample: dict[str, list[dict[str, Any]]], threads: dict[str, list[dict[str, Any]]]
) -> Iterator[ForumServer]:
    """Read-only tests share this one; tests that mutate data use `fresh`."""
    lw, ea = make_data(sample, threads)
    with ForumServer(lw, sites=[Site.alignmentforum(lw), Site.eaforum(ea)]) as srv:
        yield srv


@pytest.fixture
def fresh(
    sample: dict[str, list[dict[str, Any]]], threads: dict[str, list[dict[str, Any]]]
) -> Iterator[ForumServer]:
    lw, ea = make_data(sample, threads)
    with ForumServer(lw, sites=[Site.eaforum(ea)]) as srv:
        yield srv


@pytest.fixture
def client(server: ForumServer) -> Iterator[httpx.Client]:
    server.faults.clear()
    server.clear_requests()
    with httpx.Client(headers=UA, timeout=10) as c:
        yield c
    server.faults.clear()
