"""The feed list: configured feeds, feeds added with `tracker feeds add`, and their state.

A feed's state (ETag, Last-Modified, backfill progress, health, and whether it was added by
the user) is a small JSON object in the `feeds` source's cursor map, stream `feed:<url>`, so
it is committed with the entries it covers and `tracker feeds add` needs no table of its own.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from tracker.config import FeedConfig, FeedsSettings, source_names
from tracker.errors import ConfigError
from tracker.ingest.links import url_key

log = logging.getLogger(__name__)

STREAM_PREFIX = "feed:"
_MAX_STREAM = 255  # SyncState.stream's length
# Path parts that say "this is the feed" and make poor names (`/feed`, `/rss/`, `/atom.xml`).
_FEED_PATHS = frozenset({"feed", "feeds", "rss", "atom", "feed.xml", "rss.xml", "atom.xml",
                         "index.xml", "index.rss", "rss2", "posts", "default"})
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")

@dataclass(frozen=True)
class Feed:
    """A feed to sync: configured in settings, or added with `tracker feeds add`."""

    url: str
    name: str
    origin: str
    """`config` (settings) or `added` (stored in the database)."""
    title: str | None = None
    author: str | None = None
    substack: bool | None = None

    @property
    def stream(self) -> str:
        """The cursor stream holding this feed's state."""
        return state_stream(self.url)

    def config(self) -> FeedConfig:
        """The feed as settings show it."""
        return FeedConfig(url=self.url, name=self.name, title=self.title, author=self.author,
                          substack=self.substack)


class FeedState(BaseModel):
    """What tracker remembers about one feed (JSON in the cursor map)."""

    model_config = ConfigDict(extra="ignore")

    url: str
    subscribed: bool = False
    """Added with `tracker feeds add` or `import` (configured feeds are not)."""
    name: str | None = None
    title: str | None = None
    author: str | None = None
    added_at: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    substack: bool = False
    backfill_offset: int = 0
    backfilled: bool = False
    last_checked: datetime | None = None
    last_success: datetime | None = None
    last_status: str | None = None
    """ok | not modified | error"""
    last_error: str | None = None
    last_error_at: datetime | None = None
    warning: str | None = None
    """What was odd about the last read (wrong encoding, no dates, duplicate guids, …)."""
    items: int | None = None
    """Entries in the feed the last time it was read."""

    @classmethod
    def load(cls, value: str | None, url: str) -> FeedState:
        """The saved state, or a fresh one (a damaged value starts over rather than fail)."""
        if value:
            try:
                return cls.model_validate_json(value)
            except ValidationError:
                log.warning("feeds: the saved state of %s was unreadable; starting over", url)
        return cls(url=url)

    def dump(self) -> str:
        """The JSON saved in the cursor map."""
        return self.model_dump_json(exclude_defaults=True)

    def failed(self, message: str, now: datetime) -> FeedState:
        """The state after a failed read."""
        return self.model_copy(update={"last_checked": now, "last_status": "error",
                                       "last_error": message, "last_error_at": now})


def state_stream(url: str) -> str:
    """The cursor stream of a feed URL (hashed when the URL is too long for the column)."""
    stream = STREAM_PREFIX + url
    if len(stream) <= _MAX_STREAM:
        return stream
    return STREAM_PREFIX + "sha256:" + hashlib.sha256(url.encode()).hexdigest()


def feed_states(cursor: Mapping[str, str]) -> dict[str, FeedState]:
    """Every saved feed state by URL."""
    states = {}
    for stream, value in cursor.items():
        if stream.startswith(STREAM_PREFIX):
            state = FeedState.load(value, stream.removeprefix(STREAM_PREFIX))
            states[state.url] = state
    return states


# --- the feed list ---------------------------------------------------------------------------


def same_url(a: str, b: str) -> bool:
    """Whether two feed URLs are the same feed (scheme, `www.` and trailing `/` aside)."""
    return _url_identity(a) == _url_identity(b)


def _url_identity(url: str) -> str:
    return url_key(url).split("://", 1)[-1]


def slug(text: str) -> str:
    """A lower-case name of letters, digits and dashes, at most 64 characters."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64].strip("-")


def feed_name(url: str, taken: set[str]) -> str:
    """A stable, unused name for a feed: its host, then its path, then a number."""
    parts = urlsplit(url)
    host = (parts.hostname or "feed").removeprefix("www.")
    base = slug(host.removesuffix(".substack.com")) or "feed"
    path = "-".join(s for s in parts.path.split("/") if s and s.lower() not in _FEED_PATHS)
    candidates = [base, slug(f"{base}-{path}")] if path else [base]
    for candidate in candidates:
        if candidate and check_name(candidate, taken) is None:
            return candidate
    number = 2
    while check_name(f"{base[:60]}-{number}", taken) is not None:
        number += 1
    return f"{base[:60]}-{number}"


def check_name(name: str, taken: set[str]) -> str | None:
    """Why `name` cannot name a feed, or None when it can."""
    if not _NAME.fullmatch(name):
        return "use lower-case letters, digits and dashes (at most 64)"
    if name in source_names():
        return f"'{name}' is the name of a source"
    if name in taken:
        return f"another feed is already named '{name}'"
    return None


def resolve_feeds(settings: FeedsSettings, cursor: Mapping[str, str]) -> list[Feed]:
    """Configured feeds, then feeds added with `tracker feeds add`, each with its name.

    Raises:
        ConfigError: two configured feeds share a name, or a name is not usable.
    """
    feeds: list[Feed] = []
    taken: set[str] = set()
    for config in settings.feeds:
        name = config.name or feed_name(config.url, taken)
        problem = check_name(name, taken)
        if problem is not None:
            raise ConfigError(f"sources.feeds.feeds: the feed {config.url} cannot be named "
                              f"'{name}': {problem}; set another `name`")
        taken.add(name)
        feeds.append(Feed(url=config.url, name=name, origin="config", title=config.title,
                          author=config.author, substack=config.substack))
    for state in feed_states(cursor).values():
        if not state.subscribed or any(same_url(state.url, f.url) for f in feeds):
            continue
        name = state.name if state.name and check_name(state.name, taken) is None else (
            feed_name(state.url, taken))
        taken.add(name)
        feeds.append(Feed(url=state.url, name=name, origin="added", title=state.title,
                          author=state.author))
    return feeds
