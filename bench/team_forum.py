"""The forum side of bench/team_load.py: the local ForumMagnum server (tests/servers/forum.py)
serving real sample posts as LessWrong, settings that point the sync at it, and the edits and
new posts it makes between two syncs."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class Forum:
    """The local ForumMagnum server the sync reads, and what the run changes on it."""

    server: Any
    data: Any
    """The LessWrong site's `ForumData`: edits and new posts go here while the server answers."""
    originals: dict[str, str]
    """The served posts' ids and their original HTML (an edit appends to it)."""
    fresh: list[Any]
    """Posts not served yet: each sync round publishes the next two."""


def start_forum(shared: Path, docs: int) -> Forum:
    """Serve the first `docs` sample posts with a body as LessWrong; hold 36 back as new."""
    from tests.servers.forum import ForumData, ForumServer, Site, load_corpus_posts

    posts = load_corpus_posts(shared / "corpus" / "sample" / "posts_sample.jsonl",
                              forums=("lesswrong", "alignmentforum"), with_body_only=True,
                              limit=docs + 36)
    if len(posts) < docs + 2:  # the sample holds 216 posts with a body
        raise ValueError(f"--docs {docs} leaves no new posts for the sync: use at most "
                         f"{len(posts) - 2}")
    data = ForumData(posts[:docs])
    server = ForumServer(sites=[Site.lesswrong(data)]).start()
    originals = {p["_id"]: p["htmlBody"] for p in posts[:docs]}
    return Forum(server, data, originals, posts[docs:])


@contextmanager
def sync_settings(forum: Forum) -> Iterator[Any]:
    """Settings that sync LessWrong from the local server only, politely but without delay
    (as `tracker serve` would be configured against it), with the environment restored."""
    from tracker.config import load_settings

    env = {"TRACKER_SOURCES__LESSWRONG__ENDPOINT": forum.server.site_url("lesswrong"),
           "TRACKER_SOURCES__LESSWRONG__DELAY": "0",
           "TRACKER_SOURCES__LESSWRONG__FIRST_SYNC_DAYS": "20000",
           "TRACKER_CONTACT": "load@example.invalid",
           **{f"TRACKER_SOURCES__{other}__ENABLED": "false"
              for other in ("ALIGNMENTFORUM", "EAFORUM", "ARXIV", "FEEDS")}}
    before = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        settings = load_settings()
        # The index runs in its own loop with the test embedder (the load is on the store and
        # the keyword replica, not the model); the history backfill is left out.
        yield settings.model_copy(update={
            "schedule": settings.schedule.model_copy(update={"index": False}),
            "backfill": settings.backfill.model_copy(update={"enabled": False}),
            "index": settings.index.model_copy(update={"group_size": 64,
                                                       "checkpoint_seconds": 0.0})})
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def change_forum(forum: Forum, round_: int, rng: random.Random) -> None:
    """What the forum does between two syncs: ten posts edited (an appended paragraph, so a
    quote from a post's start stays in it) and two new posts published."""
    for post_id in rng.sample(sorted(forum.originals), min(10, len(forum.originals))):
        forum.data.edit_post(post_id, html=f"{forum.originals[post_id]}"
                                           f"<p>Edited in round {round_}.</p>")
    for post in forum.fresh[:2]:
        # Published now: the sync finds new posts by date, and a corpus post's is years old.
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        forum.data.add_post({**post, "postedAt": now})
        forum.originals[post["_id"]] = post["htmlBody"]
    del forum.fresh[:2]


def served_posts(forum: Forum) -> set[str]:
    """The ids of the posts the forum serves that a sync stores (it skips events)."""
    with forum.data.lock:
        return {i for i, p in forum.data.posts.items() if not p.get("isEvent")}
