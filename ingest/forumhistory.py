"""A forum's whole history, oldest first, on cursors of its own.

The backfill pages posts and then comments forward by `postedAt` from the forum's first day,
with the same requests, politeness and conversion as the incremental sync, but saving its
position under `backfill_posts` / `backfill_comments`: it never moves, reads or resets the
incremental cursor, and a killed run resumes from its last committed page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from tracker.ingest.base import Batch
from tracker.ingest.forum import ONE_MS, ForumSource, iso_ms, parse_time

# LessWrong's imported Overcoming Bias posts start in 2006, the EA Forum's imports in 2008;
# starting a little before costs one empty request.
HISTORY_START = datetime(2005, 1, 1, tzinfo=UTC)
STREAMS = ("posts", "comments")
DONE = "done"


def cursor_key(stream: str) -> str:
    """The cursor stream a backfill of `posts` or `comments` saves its position under."""
    return f"backfill_{stream}"


class ForumHistory:
    """The backfill of one ForumMagnum site (a `Source`: its batches carry their cursor)."""

    def __init__(self, forum: ForumSource, *, start: datetime = HISTORY_START) -> None:
        self.forum = forum
        self.name = forum.name
        self.start = start

    def fetch(
        self, client: httpx.Client, cursor: Mapping[str, str], *, since: datetime | None = None
    ) -> Iterator[Batch]:
        """Posts, then comments, from the saved backfill position (or `since`, or the start)."""
        streams = STREAMS if self.forum.settings.comments else STREAMS[:1]
        for stream in streams:
            saved = cursor.get(cursor_key(stream))
            if saved == DONE and since is None:
                continue
            start = since or (parse_time(saved) if saved and saved != DONE else self.start)
            yield from self._stream(client, stream, start)

    def _stream(self, client: httpx.Client, stream: str, start: datetime) -> Iterator[Batch]:
        forum, key = self.forum, cursor_key(stream)
        size = forum.settings.page_size
        after, seen = iso_ms(start), set[str]()
        while True:
            items = forum._list(client, stream, {"after": after, "limit": size})
            fresh = [item for item in items if item["_id"] not in seen]
            seen.update(item["_id"] for item in fresh)
            last = items[-1]["postedAt"] if items else after
            full = len(items) >= size
            if full and parse_time(last) <= parse_time(after):
                # A page of one millisecond: list it by offset, then step past it.
                fresh += forum._same_instant(client, stream, after, seen)
                last = iso_ms(parse_time(after) + ONE_MS)
            batch = forum._batch(stream, fresh, None, None)
            # `after` is inclusive: resuming from `last` re-reads that instant, and the upsert
            # makes the re-read documents `unchanged`, never duplicates.
            yield replace(batch, cursor={key: last if full else DONE}, note=f"{stream} {last}")
            if not full:
                return
            after = last
