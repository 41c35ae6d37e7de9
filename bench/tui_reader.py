"""How fast the reader opens a 200k-word post, and a normal one.

    .venv/bin/python bench/tui_reader.py [--words 200000] [--runs 5]

A fresh store in a temporary TRACKER_HOME gets two posts through `store.upsert_documents`: a
normal one (~1,500 words: headings, lists, quotes, footnotes) and the same text repeated to
`--words` words. The app is the one `tracker tui` builds (`make_app`, hash embedder, no index),
run headless at 120x36. Printed per post (median of `--runs`):

- page: `Library.page(id)` alone (SQL + cleaning; runs in a worker thread in the app);
- open: from posting `OpenDocument` to the first lines of the text painted (screen mount ~80 ms
  of it);
- load: the event loop's own share of that (`DocumentView.load`: first screenful wrapped);
- wrap all: wrapping every line at once (what the background timer does in 3,000-line chunks).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SECTION = """## Section {n}

The usual method to solve a maze is some variant of babble-and-prune: try a path, if it seems \
to get closer to the exit then keep going. It's a black-box method that works reasonably well \
on most mazes.[^{n}] However, there are other methods — for instance, a chain of walls with \
only one opening, which tells us $O(n)$ things about every path at once.

- We a/b test hundreds of different ad spend strategies and marketing copy permutations.
- We obtain some anonymized data from a credit agency on people with car loans.

> This chain of walls is a gears-level insight into the maze: a piece of the internal \
structure which lets us better understand how the maze works on a low level.

This is a general feature of gears-level models: figuring out a system's gears takes extra \
work up-front, but yields dividends forever. The alternative, typically, is a black-box \
strategy: use a method which works without needing to understand the internals of the system.

[^{n}]: A footnote about mazes, with a 中文 phrase and an emoji 🙂 for width.
"""


def make_body(words: int) -> str:
    """Sections of markdown-flavoured text up to about `words` words."""
    parts, count, n = [], 0, 1
    while count < words:
        section = SECTION.format(n=n)
        parts.append(section)
        count += len(section.split())
        n += 1
    return "\n".join(parts)


def seed(words: int) -> dict[str, tuple[int, str]]:
    """A store with a normal post and a huge one: name -> (id, body)."""
    from tracker.config import load_settings
    from tracker.models import AuthorCreate, DocumentCreate
    from tracker.store import get_document, upsert_documents
    from tracker.store.engine import create_schema, make_engine, session_scope

    engine = make_engine(load_settings().sqlalchemy_url)
    create_schema(engine)
    posts = {"normal": make_body(1500), "huge": make_body(words)}
    with session_scope(engine) as session:
        upsert_documents(session=session, documents=[DocumentCreate(
            source="lesswrong", native_id=name, kind="post", title=f"A {name} post",
            url=f"https://example.invalid/{name}", posted_at=datetime(2024, 1, 1, tzinfo=UTC),
            body_text=body, authors=[AuthorCreate(name="bench")]) for name, body in posts.items()])
    with session_scope(engine) as session:
        ids = {name: get_document(session=session, ref=f"lesswrong:{name}").id or 0
               for name in posts}
    engine.dispose()
    return {name: (ids[name], body) for name, body in posts.items()}


def timed(run: Callable[[], object]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


async def open_times(document_id: int, runs: int) -> dict[str, list[float]]:
    """Open the document `runs` times in the app; the timings of each step."""
    from tests.index.conftest import HashEmbedder
    from tracker.config import load_settings
    from tracker.store.engine import make_engine
    from tracker.tui.messages import OpenDocument
    from tracker.tui.screens.reader import ReaderScreen
    from tracker.workbench import make_app

    engine = make_engine(load_settings().sqlalchemy_url)
    app = make_app(engine, load_settings(), embedder=HashEmbedder())
    out: dict[str, list[float]] = {"page": [], "open": [], "load": [], "wrap all": []}
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        for _ in range(runs):
            out["page"].append(timed(lambda: app.library.page(document_id)))
            started = time.perf_counter()
            app.post_message(OpenDocument(document_id))
            while not (isinstance(app.screen, ReaderScreen) and app.screen.page is not None):
                await asyncio.sleep(0.0005)
            reader = app.screen
            assert isinstance(reader, ReaderScreen) and reader.page is not None
            view, body = reader.view, reader.page.body
            while not view._cache:  # noqa: SLF001  (filled by render_line: the first paint)
                await asyncio.sleep(0.0005)
            out["open"].append(time.perf_counter() - started)
            out["load"].append(timed(partial(view.load, body)))
            out["wrap all"].append(timed(partial(view.model.wrap_lines, len(body) + 1)))
            await app.workers.wait_for_complete()
            app.pop_screen()
            await pilot.pause()
    engine.dispose()
    return out


def main() -> None:
    """Seed, open each post, print medians."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["TRACKER_HOME"] = home
        for name, (document_id, body) in seed(args.words).items():
            times = asyncio.run(open_times(document_id, args.runs))
            cells = "  ".join(f"{step} {statistics.median(values) * 1000:6.1f} ms"
                              for step, values in times.items())
            print(f"{name:6s} {len(body.split()):7d} words {len(body):8d} chars  {cells}")


if __name__ == "__main__":
    main()
