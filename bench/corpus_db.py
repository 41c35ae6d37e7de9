"""Build (once) a tracker store of the real corpus for the search benchmarks.

    .venv/bin/python bench/corpus_db.py [--home .bench/search] [--comments 0:0]

Every LessWrong, Alignment Forum and EA Forum post of ../shared/corpus/posts.jsonl.gz (39.5k
posts, 8.4k with a body) is synced through the real pipeline: the local ForumMagnum server
(tests/servers/forum.py) and `tracker sync`. The store is kept under `--home` (TRACKER_HOME) and
reused by bench/search_quality.py and bench/search_speed.py; `tracker index` is run by them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import start_server  # noqa: E402  (bench/ingest.py)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_HOME = REPO / ".bench" / "search"


def bench_env(home: Path) -> dict[str, str]:
    """The environment of a tracker process that works on the benchmark store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env["TRACKER_HOME"] = str(home)
    env["HF_HUB_OFFLINE"] = "1"
    return env


def build(home: Path, comments: str) -> None:
    """Sync the corpus into `home` unless it is there already."""
    marker = home / "synced"
    if marker.exists():
        print(f"corpus store ready at {home}")
        return
    home.mkdir(parents=True, exist_ok=True)
    server, urls = start_server(comments)
    try:
        env = bench_env(home)
        for name in ("LESSWRONG", "EAFORUM"):
            env[f"TRACKER_SOURCES__{name}__ENDPOINT"] = urls[name.lower()]
            env[f"TRACKER_SOURCES__{name}__DELAY"] = "0"
            env[f"TRACKER_SOURCES__{name}__COMMENTS"] = "false" if comments == "0:0" else "true"
        started = time.perf_counter()
        subprocess.run([str(REPO / ".venv" / "bin" / "tracker"), "sync", "lesswrong", "eaforum",
                        "--since", "2000-01-01"], env=env, check=True)
        print(f"synced in {time.perf_counter() - started:.0f} s")
        marker.write_text(comments)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--comments", default="0:0", help="generated comments per post, MIN:MAX")
    args = parser.parse_args()
    build(args.home, args.comments)


if __name__ == "__main__":
    main()
