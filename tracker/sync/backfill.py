"""`tracker backfill`: a forum's whole history, oldest first, committed page by page with a
cursor of its own (`tracker.ingest.forumhistory`), so it never disturbs the incremental sync
and a killed run resumes where its last committed page ended.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import Engine

from tracker import store
from tracker.config import FORUM_SOURCES, Settings
from tracker.errors import ConfigError
from tracker.ingest.base import Batch
from tracker.ingest.forumhistory import DONE, STREAMS, ForumHistory, cursor_key
from tracker.models import utcnow
from tracker.store.engine import session_scope
from tracker.store.history import reach
from tracker.sync.sources import BatchHook, SyncReport, build_source, run_source

# Measured against the local ForumMagnum server (bench/import.py --backfill): the request cost
# beyond the polite delay is ~0.2 s for a page of 100; the real sites answer a page of 100
# posts with bodies in ~1 s (reference/sources.md), which is what projections assume.
SECONDS_PER_PAGE_BEYOND_DELAY = 1.0
# Size of each forum's history for projections (reference/performance.md §2: ~300k posts and
# ~3M comments across LW, AF and EA; split by the sites' public post counts: LW ~2/3, EA ~1/3;
# AF posts are LessWrong posts).
FORUM_HISTORY = {"lesswrong": (200_000, 2_000_000), "alignmentforum": (10_000, 40_000),
                 "eaforum": (100_000, 1_000_000)}


def run_name(name: str) -> str:
    """How a backfill's runs are logged (apart from the incremental sync's)."""
    return f"{name}/backfill"


def check_backfill_sources(names: Sequence[str]) -> list[str]:
    """The forums to backfill: those named, or all three; ConfigError for any other source."""
    for name in names:
        if name not in FORUM_SOURCES:
            raise ConfigError(
                f"'{name}' has no backfill; backfill covers {', '.join(FORUM_SOURCES)}. For "
                f"papers use `tracker sync arxiv --since DATE` or `tracker import FILE`")
    return list(dict.fromkeys(names)) or list(FORUM_SOURCES)


class _Limited:
    """A source cut to its first `pages` batches (serve's low-priority slices)."""

    def __init__(self, inner: ForumHistory, pages: int | None) -> None:
        self.inner, self.name, self.pages = inner, inner.name, pages

    def fetch(self, client: httpx.Client, cursor: Mapping[str, str], *,
              since: datetime | None = None) -> Iterator[Batch]:
        return itertools.islice(self.inner.fetch(client, cursor, since=since), self.pages)


def backfill_source(
    engine: Engine, settings: Settings, name: str, *, pages: int | None = None,
    since: datetime | None = None, on_batch: BatchHook | None = None,
) -> SyncReport:
    """Backfill one forum from its saved backfill position (at most `pages` pages)."""
    from tracker.ingest.forum import ForumSource

    forum = build_source(name, settings)
    assert isinstance(forum, ForumSource)
    history = _Limited(ForumHistory(forum), pages)
    return run_source(engine, settings, name, history, run_name=run_name(name), since=since,
                      on_batch=on_batch)


@dataclass
class BackfillState:
    """How far back one forum reaches, and where its backfill stands."""

    source: str
    oldest: datetime | None
    """The oldest stored document's date."""
    positions: dict[str, str]
    """Stream (`posts`, `comments`) → the date the backfill reached, `done`, or absent."""
    last_run: object | None

    @property
    def done(self) -> bool:
        """Posts and comments have both reached the present."""
        return all(self.positions.get(stream) == DONE for stream in STREAMS)


def backfill_states(engine: Engine, names: Sequence[str]) -> list[BackfillState]:
    """Per forum: the oldest stored document and the backfill's position."""
    with session_scope(engine) as session:
        oldest = reach(session=session, sources=names)
        states = []
        for name in names:
            cursor = store.get_cursor(session=session, source=name)
            positions = {s: cursor[cursor_key(s)] for s in STREAMS if cursor_key(s) in cursor}
            runs = store.source_status(session=session, sources=[run_name(name)])
            states.append(BackfillState(name, oldest.get(name), positions, runs[0].last_run))
    return states


def projected_hours(name: str, settings: Settings) -> tuple[int, float]:
    """(requests, hours) a full polite backfill of `name` is expected to take, from its size
    (`FORUM_HISTORY`), page size, delay and the measured per-page cost."""
    config = settings.sources.forum(name)
    posts, comments = FORUM_HISTORY.get(name, (0, 0))
    documents = posts + (comments if config.comments else 0)
    requests = -(-documents // config.page_size)
    return requests, requests * (config.delay + SECONDS_PER_PAGE_BEYOND_DELAY) / 3600


def history_hint(engine: Engine, settings: Settings, *, recent_days: int = 60) -> str | None:
    """One line on how to get the history when every forum reaches back only `recent_days`
    (a store holding just the first sync's last 30 days); None otherwise."""
    forums = [n for n in FORUM_SOURCES if settings.source(n).enabled]
    if not forums:
        return None
    states = backfill_states(engine, forums)
    now = utcnow()
    if any(s.positions for s in states):
        return None
    if any(s.oldest is not None and (now - s.oldest).days > recent_days for s in states):
        return None
    hours = sum(projected_hours(n, settings)[1] for n in forums if n != "alignmentforum")
    return (f"Only recent posts are stored. For the whole history run `tracker import FILE` "
            f"(an Alignment Research Dataset .jsonl: minutes) or `tracker backfill` "
            f"(~{hours:.0f} h of polite requests, resumable; `tracker serve` can run it in the "
            f"background with [backfill] enabled = true).")
