"""Search-as-you-type latency and start-up time of the `tracker tui` search screen.

    .venv/bin/python bench/tui_speed.py [--home .bench/search] [--queries 40] [--chars 60]
                                        [--startups 5]

The app is the one `tracker tui` runs (`tracker.workbench.make_app` with the configured query
model: the numpy MiniLM), over the store in `--home` (default TRACKER_HOME, else the corpus
store bench/corpus_db.py builds), driven headless through Textual's `run_test` at 120x36.

Typing: each benchmark query (bench/search_queries.jsonl, cut to `--chars` at a word end) is
typed one key at a time with gaps drawn uniformly from 40-180 ms (a typist at ~9 keys/s who
sometimes pauses long enough for the debounce to fire a search mid-word). Measured from
just before the last key press until the result list holds the results of the full text
("shown"), and until the screen has been repainted after that ("drawn"); the library's own
search time is printed beside them.

Start-up: wall time from starting a new Python process until the search screen is mounted
with the query input focused, then until the source choices are loaded and the searcher is
warm (index opened, query model loaded, fuzzy matchers built), and the latency of a first
query typed the moment the input has focus.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# As `tracker tui` runs (tracker/cli.py, _single_blas_thread): one BLAS thread for queries.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.corpus_db import DEFAULT_HOME  # noqa: E402

SIZE = (120, 36)
GAP_MS = (40, 180)
FIRST_QUERY = "gradient hacking"


def cut(text: str, chars: int) -> str:
    """The text up to `chars` characters, ending at a word end."""
    if len(text) <= chars:
        return text
    return text[:chars].rsplit(" ", 1)[0]


def percentile(values: list[float], p: float) -> float:
    """Linear-interpolated percentile, as numpy's default."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def open_app() -> Any:
    """The app as `tracker tui` builds it, over TRACKER_HOME."""
    from tracker.config import load_settings
    from tracker.store.engine import make_engine
    from tracker.workbench import make_app

    settings = load_settings()
    return make_app(make_engine(settings.sqlalchemy_url), settings)


async def poll(done: Any, timeout: float = 60.0, step: float = 0.002) -> float:
    """Wait (`step` s at a time) until `done()` holds; the perf_counter time it was seen."""
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the search screen did not get there")
        await asyncio.sleep(step)
    return time.perf_counter()


async def drawn(screen: Any) -> float:
    """The perf_counter time once the screen has repainted what changed."""
    event = asyncio.Event()
    screen.call_after_refresh(event.set)
    await event.wait()
    return time.perf_counter()


def shows(screen: Any, text: str) -> bool:
    """Whether the screen holds the results of `text`."""
    return screen.outcome is not None and screen.outcome.query.text == text


def send_key(app: Any, char: str) -> None:
    """Deliver one typed character as the terminal driver does, without waiting for the app.

    (Pilot.press waits until the process looks idle after each key, 40 ms to 2 s: that
    would pace the typing by the app's work instead of by the typist.)
    """
    from textual import events
    from textual.keys import _character_to_key

    event = events.Key(_character_to_key(char), char)
    event.set_sender(app)
    app._driver.send_message(event)


async def type_text(app: Any, field: Any, text: str,
                    rng: random.Random) -> tuple[float, list[float]]:
    """Type `text` with typist's gaps; the time of the last key and each key's echo in ms."""
    echoes = []
    last = 0.0
    for number, char in enumerate(text, start=1):
        sent = time.perf_counter()
        send_key(app, char)
        echoed = await poll(lambda n=number: field.value == text[:n], step=0.001)
        echoes.append(1000 * (echoed - sent))
        last = sent
        if number < len(text):
            gap = rng.uniform(*GAP_MS) / 1000
            await asyncio.sleep(max(0.0, gap - (time.perf_counter() - sent)))
    return last, echoes


async def type_and_time(app: Any, screen: Any, text: str, rng: random.Random) -> dict[str, Any]:
    """Type `text` key by key; ms from the last key to results shown and drawn."""
    last, echoes = await type_text(app, screen.query_one("#query"), text, rng)
    shown = await poll(lambda: shows(screen, text))
    painted = await drawn(screen)
    return {"shown": 1000 * (shown - last), "drawn": 1000 * (painted - last),
            "search": 1000 * screen.outcome.seconds, "hits": len(screen.outcome.hits),
            "echoes": echoes}


async def measure_typing(queries: list[str], seed: int) -> list[dict[str, Any]]:
    """Type every query into one app; one timing row per query."""
    from tracker.tui.screens.search import SearchScreen

    app = open_app()
    rng = random.Random(seed)
    rows = []
    async with app.run_test(size=SIZE) as pilot:
        await poll(lambda: isinstance(app.screen, SearchScreen))
        screen = app.screen
        await asyncio.sleep(3.0)  # past the warm-up, as a user who starts typing a bit later
        for number, text in enumerate(queries, start=1):
            row = await type_and_time(app, screen, text, rng)
            rows.append(row)
            print(f"  {number:2}/{len(queries)} shown {row['shown']:5.0f} ms, drawn "
                  f"{row['drawn']:5.0f} ms (search {row['search']:4.0f} ms, {row['hits']} hits;"
                  f" key echo max {max(row['echoes']):3.0f} ms)  {text[:40]}", flush=True)
            await pilot.press("ctrl+u")
            await poll(lambda: screen.outcome is None)
            await asyncio.sleep(0.5)
    return rows


async def startup_child(started: float, seed: int) -> dict[str, float]:
    """In a fresh process: seconds from `started` until the query input has focus and until
    the source choices are in; then a first query typed at once, ms from its last key."""
    from textual.widgets import Input

    from tracker.tui.screens.search import SearchScreen
    from tracker.tui.widgets.filters import FilterBar

    app = open_app()
    async with app.run_test(size=SIZE):
        def ready() -> bool:
            screen = app.screen
            return isinstance(screen, SearchScreen) and \
                isinstance(screen.focused, Input) and screen.focused.id == "query"

        await poll(ready, step=0.001)
        screen = app.screen
        await drawn(screen)
        focused = time.time() - started
        choices = screen.query_one(FilterBar).query_one("#source")
        loaded = asyncio.create_task(poll(lambda: len(choices._options) > 1))
        last, echoes = await type_text(app, screen.query_one("#query"), FIRST_QUERY,
                                       random.Random(seed))
        shown = await poll(lambda: shows(screen, FIRST_QUERY))
        sources = time.time() - started - (time.perf_counter() - await loaded)
    return {"focused": focused, "sources": sources, "first_query_ms": 1000 * (shown - last),
            "echo_max_ms": max(echoes)}


def measure_startup(home: Path, runs: int) -> list[dict[str, float]]:
    """Start-up timings of `runs` fresh processes."""
    env = {**os.environ, "TRACKER_HOME": str(home)}
    rows = []
    for run in range(runs):
        started = time.time()
        out = subprocess.run([sys.executable, __file__, "--startup-child", str(started),
                              "--seed", str(run)],
                             env=env, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        print(f"  focused {row['focused']:.2f} s, source choices {row['sources']:.2f} s; "
              f"'{FIRST_QUERY}' typed from then: shown {row['first_query_ms']:.0f} ms after "
              f"its last key, key echo max {row['echo_max_ms']:.0f} ms", flush=True)
    return rows


def report(name: str, values: list[float]) -> None:
    """One line: median, p95, min and max, in ms."""
    print(f"{name:46} p50 {statistics.median(values):6.0f} ms   p95 "
          f"{percentile(values, 95):6.0f} ms   (min {min(values):.0f}, max {max(values):.0f}, "
          f"n {len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path,
                        default=Path(os.environ.get("TRACKER_HOME") or DEFAULT_HOME))
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--chars", type=int, default=60)
    parser.add_argument("--startups", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--startup-child", type=float)
    args = parser.parse_args()
    if args.startup_child:
        print(json.dumps(asyncio.run(startup_child(args.startup_child, args.seed))))
        return
    from bench.search_quality import load_queries

    home = args.home.resolve()
    os.environ["TRACKER_HOME"] = str(home)
    built = home / "built.json"
    print(f"store: {home} ({built.read_text().strip() if built.exists() else 'corpus store'})")
    print(f"start-up ({args.startups} fresh processes):")
    startups = measure_startup(home, args.startups)
    texts = [cut(q["query"], args.chars) for q in load_queries()][: args.queries]
    print(f"typing {len(texts)} queries of at most {args.chars} characters, gaps "
          f"{GAP_MS[0]}-{GAP_MS[1]} ms:")
    rows = asyncio.run(measure_typing(texts, args.seed))
    print()
    report("last key → results shown", [r["shown"] for r in rows])
    report("last key → results drawn", [r["drawn"] for r in rows])
    report("  the library's search itself", [r["search"] for r in rows])
    report("key → character echoed in the input", [e for r in rows for e in r["echoes"]])
    report("start-up → search screen focused", [1000 * r["focused"] for r in startups])
    report("start-up → source choices loaded", [1000 * r["sources"] for r in startups])
    report(f"first query ('{FIRST_QUERY}') → shown", [r["first_query_ms"] for r in startups])
    report("key echo during start-up (max per run)", [r["echo_max_ms"] for r in startups])


if __name__ == "__main__":
    main()
