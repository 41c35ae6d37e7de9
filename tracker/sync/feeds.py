"""The feed list: configured and added feeds with their health; add, import and remove."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tracker import store
from tracker.config import FeedConfig, Settings
from tracker.errors import ConfigError
from tracker.store.engine import session_scope

if TYPE_CHECKING:

    from tracker.ingest.feedlist import Feed, FeedState

log = logging.getLogger(__name__)





@dataclass
class FeedInfo:
    """A feed with its saved state (health) and the number of entries stored from it."""

    feed: Feed
    state: FeedState
    entries: int


def list_feeds(engine: Engine, settings: Settings) -> list[FeedInfo]:
    """Configured and added feeds with their health."""
    from tracker.ingest.feedlist import FeedState, resolve_feeds

    with session_scope(engine) as session:
        cursor = store.get_cursor(session=session, source="feeds")
        feeds = resolve_feeds(settings.sources.feeds, cursor)
        counts = store.count_by_source(session=session, sources=[f.name for f in feeds])
    return [FeedInfo(f, FeedState.load(cursor.get(f.stream), f.url), counts.get(f.name, 0))
            for f in feeds]


def add_feeds(
    engine: Engine, settings: Settings, configs: Sequence[FeedConfig]
) -> list[tuple[Feed, bool]]:
    """Subscribe to feeds (kept in the database); False marks one already in the list."""
    from tracker.ingest.feedlist import FeedState, check_name, feed_name, resolve_feeds, same_url
    from tracker.ingest.feedlist import slug as make_slug
    from tracker.models import utcnow

    results: list[tuple[Feed, bool]] = []
    with session_scope(engine) as session:
        cursor = dict(store.get_cursor(session=session, source="feeds"))
        for config in configs:
            if not config.url.startswith(("http://", "https://")):
                raise ConfigError(f"'{config.url}' is not an http(s) URL; give the feed's "
                                  f"address, e.g. https://example.substack.com/feed")
            feeds = resolve_feeds(settings.sources.feeds, cursor)
            known = next((f for f in feeds if same_url(f.url, config.url)), None)
            if known is not None:
                results.append((known, False))
                continue
            taken = {f.name for f in feeds}
            name = config.name or make_slug(config.title or "")
            if config.name and (problem := check_name(config.name, taken)) is not None:
                raise ConfigError(f"Cannot name the feed '{config.name}': {problem}")
            if not name or check_name(name, taken) is not None:
                name = feed_name(config.url, taken)
            state = FeedState.load(cursor.get(_stream(config.url)), config.url)
            state = state.model_copy(update={
                "subscribed": True, "name": name, "title": config.title,
                "author": config.author, "added_at": utcnow()})
            cursor[_stream(config.url)] = state.dump()
            store.save_cursor(session=session, source="feeds",
                              values={_stream(config.url): state.dump()})
            added = resolve_feeds(settings.sources.feeds, cursor)
            results.append((next(f for f in added if f.url == config.url), True))
    return results


def remove_feed(engine: Engine, settings: Settings, ref: str) -> Feed:
    """Unsubscribe from an added feed, by URL or name; its stored entries stay."""
    from tracker.errors import NotFoundError
    from tracker.ingest.feedlist import resolve_feeds, same_url

    with session_scope(engine) as session:
        cursor = store.get_cursor(session=session, source="feeds")
        for feed in resolve_feeds(settings.sources.feeds, cursor):
            if feed.name != ref and not same_url(feed.url, ref):
                continue
            if feed.origin == "config":
                raise ConfigError(f"The feed {feed.url} is configured in sources.feeds.feeds "
                                  f"(config.toml or TRACKER_SOURCES__FEEDS__FEEDS); remove it "
                                  f"there")
            store.delete_cursor(session=session, source="feeds", stream=feed.stream)
            return feed
    raise NotFoundError(f"No feed '{ref}'; `tracker feeds list` shows names and URLs")


def _stream(url: str) -> str:
    from tracker.ingest.feedlist import state_stream

    return state_stream(url)


# --- the search index ------------------------------------------------------------------------
