"""HTML→text speed over the real corpus: every post body with HTML rendered by the renderer on
`main` and by this tree's, back to back, with the count of bodies whose text or links differ.

    .venv/bin/python bench/html_speed.py [--ref main] [--limit N] [--rounds 3]

The old code is `ingest/{html,htmlrender,htmllines,htmlrules,links}.py` as `git show REF:…`
writes them (a module REF lacks is left out), imported as a package from a temporary folder
(they import only the ground floor, which both share). CPU seconds (process time) are printed
beside the wall clock: on a shared machine the wall clock alone misleads. Old and new alternate
for `--rounds` rounds; the best round of each is kept.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
POSTS = REPO.parent / "shared" / "corpus" / "posts.jsonl.gz"
MODULES = ("html", "htmlrender", "htmllines", "htmlrules", "links")


def load_bodies(limit: int | None) -> list[tuple[str, str]]:
    """(body_html, url) of every corpus post that has HTML."""
    bodies = []
    with gzip.open(POSTS, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record.get("body_html"):
                bodies.append((record["body_html"], record.get("url") or ""))
                if limit is not None and len(bodies) >= limit:
                    break
    return bodies


def old_parser(ref: str, folder: Path) -> Callable[..., Any]:
    """`parse_body` as it is on `ref`, from a copy of its ingest modules."""
    package = folder / "oldingest"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in MODULES:
        shown = subprocess.run(["git", "show", f"{ref}:ingest/{name}.py"], cwd=REPO,
                               capture_output=True, text=True)
        if shown.returncode == 0:  # a module the ref does not have yet is not needed there
            (package / f"{name}.py").write_text(shown.stdout)
    sys.path.insert(0, str(folder))
    return importlib.import_module("oldingest.html").parse_body  # type: ignore[no-any-return]


def timed(parse: Callable[..., Any], bodies: list[tuple[str, str]]
          ) -> tuple[float, float, list[Any]]:
    """Wall and CPU seconds of one round, and its results."""
    wall, cpu = time.perf_counter(), time.process_time()
    results = [parse(html, url) for html, url in bodies]
    return time.perf_counter() - wall, time.process_time() - cpu, results


def same(old: Any, new: Any) -> bool:
    """Equal text and equal links, field by field (context included)."""
    return bool(old.text == new.text and [link.model_dump() for link in old.links]
                == [link.model_dump() for link in new.links])


def main() -> None:
    """Render every body with the old and the new code; print time per body and differences."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--ref", default="main")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from tracker.ingest.html import parse_body

    bodies = load_bodies(args.limit)
    megabytes = sum(len(html) for html, _ in bodies) / 1e6
    print(f"{len(bodies)} bodies, {megabytes:.0f} MB of HTML; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="tracker-html-bench-") as tmp:
        old = old_parser(args.ref, Path(tmp))
        sides = {"old": old, "new": parse_body}
        best = {name: (float("inf"), float("inf")) for name in sides}
        figures: dict[str, list[Any]] = {}
        # Old and new alternate round by round, so that a change in the load hits both.
        for _ in range(args.rounds):
            for name, parse in sides.items():
                wall, cpu, figures[name] = timed(parse, bodies)
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    for name, (wall, cpu) in best.items():
        label = args.ref if name == "old" else "this tree"
        print(f"{name} ({label}): {cpu:.2f} CPU-s ({wall:.2f} s wall) = "
              f"{cpu / len(bodies) * 1e3:.3f} ms per body (best of {args.rounds})")
    differing = sum(not same(a, b) for a, b in zip(figures["old"], figures["new"], strict=True))
    print(f"differing outputs (text or links): {differing} of {len(bodies)}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
