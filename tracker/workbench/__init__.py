"""The terminal UI's `Library`, wired over the store, the index, the claims and the jobs.

`make_app` is the one factory for the app: `tracker tui` calls it, and so do the tests and the
benchmarks. Every string handed to the UI goes through `clean_text` first.

- `library`: `Workbench`, the `tracker.tui.library.Library` protocol over one store
- `records`: the plain records the UI is given, built from store rows
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tracker.config import Settings
from tracker.index.base import Embedder
from tracker.models import DEFAULT_READER
from tracker.workbench.library import Workbench

if TYPE_CHECKING:
    from tracker.tui.app import TrackerApp


def make_app(engine: Engine, settings: Settings, *, embedder: Embedder | None = None,
             reader: str = DEFAULT_READER,
             start: str = "search", index_on_start: bool = False) -> TrackerApp:
    """The Textual app over this store: the only way the app is built.

    Args:
        engine: the store.
        settings: the configuration (sources, index model, digest).
        embedder: the embedding model for queries and index runs; default the configured one.
        start: the first screen: search, status, claims or digests.
        index_on_start: bring the index up to date in the background as the app opens.
        reader: whose claims, labels, reading history and digests the app shows.
    """
    from tracker.tui.app import TrackerApp

    return TrackerApp(Workbench(engine, settings, embedder=embedder, reader=reader), start=start,
                      index_on_start=index_on_start)
