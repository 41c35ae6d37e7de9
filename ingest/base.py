"""The one `Source` protocol every site implements, and the batches sources yield."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import httpx

from tracker.models import DocumentCreate


@dataclass(frozen=True)
class Window:
    """A span a source has listed completely: stored documents in it that were not seen are gone.

    `source` and `kind` name the stored documents it covers, `start`/`end` bound their
    `posted_at` (end exclusive), and `af_only` narrows it to Alignment Forum documents.
    """

    source: str
    kind: str
    start: datetime
    end: datetime
    seen: frozenset[str]
    af_only: bool = False


@dataclass
class Batch:
    """One page of documents and the cursors to save once they are committed.

    The store writes `documents`, marks documents outside `windows` as deleted, and saves
    `cursor` (stream → value) in the same transaction, so a crash never moves a cursor past
    rows that were not written.
    """

    documents: list[DocumentCreate]
    cursor: Mapping[str, str] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)
    failed: int = 0
    """Items the source received but could not read (each one is logged)."""
    note: str = ""
    """A short progress note, such as the date the page reached."""


class Source(Protocol):
    """A site tracker syncs from. Sources never touch the database or the index."""

    name: str

    def fetch(
        self, client: httpx.Client, cursor: Mapping[str, str], *, since: datetime | None = None
    ) -> Iterator[Batch]:
        """Yield batches of new and changed documents.

        Args:
            client: an HTTP client already set up for politeness (see `tracker.ingest.http`).
            cursor: the stream → value map saved by earlier syncs (empty on the first sync).
            since: backfill from this date instead of the saved cursor.

        Returns:
            An iterator of batches; each one is committed before the next is requested.

        Raises:
            SourceError: the site failed in a way retries did not mend (ChallengeError for
                a bot challenge, RateLimitedError when 429s outlasted the retries).
        """
        ...
