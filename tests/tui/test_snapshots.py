"""Screens at a fixed terminal size compared with accepted SVG snapshots
(`scripts/test tests/tui/test_snapshots.py --snapshot-update` accepts a deliberate change).

Only screens whose content is deterministic are pictured: the search screen's status line
shows each search's time, and the status screen shows sync times."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from textual.pilot import Pilot

from tracker.tui.app import TrackerApp
from tracker.tui.library import Query
from tracker.tui.messages import OpenDocument
from tracker.workbench import Workbench

from .conftest import SIZE
from .markdown_posts import DONT_ALIGN, WITHOUT_ROBUSTNESS, corpus_markdown
from .pilots import settle
from .reading import insert_post

PARETO = "Being the (Pareto) Best in the World"


def _pareto(workbench: Workbench) -> int:
    hit = next(h for h in workbench.search(Query("pareto best in the world")).hits
               if h.title == PARETO and h.kind == "post")
    return hit.document_id


def test_search_screen_empty(app: TrackerApp, snap_compare: Any) -> None:
    async def ready(pilot: Pilot[None]) -> None:
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_reader_on_a_corpus_post(app: TrackerApp, workbench: Workbench,
                                 snap_compare: Any) -> None:
    document_id = _pareto(workbench)

    async def open_it(pilot: Pilot[None]) -> None:
        pilot.app.post_message(OpenDocument(document_id))
        await pilot.pause()
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_it, press=["j", "v", "j"])


def test_claims_screen_with_arguments(app: TrackerApp, workbench: Workbench, engine: Engine,
                                      snap_compare: Any) -> None:
    document_id = _pareto(workbench)
    body = workbench.page(document_id).body
    claim = workbench.add_claim("Combining two skills beats being best at one")
    quote = "Pareto optimality pushes us into more dimensions."
    start = body.index(quote)
    workbench.tag(document_id, start, start + len(quote), claim.claim_id, "supports")

    async def ready(pilot: Pilot[None]) -> None:
        await pilot.press("f3")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_help_lists_the_reader_keys(app: TrackerApp, workbench: Workbench,
                                    snap_compare: Any) -> None:
    document_id = _pareto(workbench)

    async def open_help(pilot: Pilot[None]) -> None:
        pilot.app.post_message(OpenDocument(document_id))
        await pilot.pause()
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=open_help)


def _reader_at(app: TrackerApp, engine: Engine, shared: Path, key: str, phrase: str,
               snap_compare: Any) -> bool:
    """A real markdown post from the corpus, stored as a markdown source stores it, opened
    with the cursor on `phrase`."""
    title, body = corpus_markdown(shared / "corpus", key)
    document_id = insert_post(engine, key.replace("/", "-").replace(".", "-"), title, body)

    async def open_it(pilot: Pilot[None]) -> None:
        pilot.app.post_message(OpenDocument(document_id, body.index(phrase)))
        await pilot.pause()
        await settle(pilot)

    return bool(snap_compare(app, terminal_size=SIZE, run_before=open_it))


def test_reader_markdown_lists_and_quotes(app: TrackerApp, engine: Engine, shared: Path,
                                          snap_compare: Any) -> None:
    # TurnTrout's numbered thought experiments, links, emphasis and `<hr/>` rules
    assert _reader_at(app, engine, shared, DONT_ALIGN, "Subtitle: Don't try", snap_compare)


def test_reader_markdown_numbered_items(app: TrackerApp, engine: Engine, shared: Path,
                                        snap_compare: Any) -> None:
    assert _reader_at(app, engine, shared, DONT_ALIGN, "We can also turn to thought",
                      snap_compare)


def test_reader_markdown_nested_lists_and_code(app: TrackerApp, engine: Engine, shared: Path,
                                               snap_compare: Any) -> None:
    assert _reader_at(app, engine, shared, WITHOUT_ROBUSTNESS, "So, let $C$ be", snap_compare)
