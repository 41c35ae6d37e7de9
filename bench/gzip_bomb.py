"""A 1 GB gzip bomb against `tracker sync lesswrong` and `tracker sync arxiv`: peak memory.

    .venv/bin/python bench/gzip_bomb.py [--size 1e9]

A local server (tests/servers/bomb.py, in its own process) answers every request with ~1 MB
of gzip that decompresses to `--size` bytes of zeros, as a GraphQL answer and as an arXiv Atom
answer. Each sync runs as the real CLI in a subprocess with a fresh TRACKER_HOME and no delay;
printed: its exit status, its stderr line and its peak resident memory (from wait4's rusage
for that one process). The goal is one error line per source and a peak under 300 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRACKER = [sys.executable, "-m", "tracker"]
SOURCES = {"lesswrong": ("/graphql", "application/json"),
           "arxiv": ("/api/query", "application/atom+xml; charset=UTF-8")}


def start_bomb(size: float, content_type: str) -> tuple[subprocess.Popen[str], str, int]:
    """The bomb server, its base URL and the compressed size, once it is ready."""
    command = [sys.executable, "-m", "tests.servers.bomb", "--size", str(size),
               "--content-type", content_type]
    process = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    base, compressed = process.stdout.readline().strip(), 0
    for line in process.stdout:
        if line.startswith("compressed "):
            compressed = int(line.split()[1])
        if line.strip() == "ready":
            return process, base, compressed
    raise RuntimeError("the bomb server did not start")


def sync(source: str, endpoint: str) -> tuple[int, str, float, float]:
    """Run `tracker sync SOURCE`; exit status, stderr, peak RSS in MB and seconds."""
    with tempfile.TemporaryDirectory() as home:
        prefix = f"TRACKER_SOURCES__{source.upper()}__"
        env = {**os.environ, "TRACKER_HOME": home, prefix + "ENDPOINT": endpoint,
               prefix + "DELAY": "0", "TRACKER_CONTACT": "bench@example.invalid"}
        started = time.perf_counter()
        with tempfile.TemporaryFile("w+") as err:
            process = subprocess.Popen([*TRACKER, "sync", source], cwd=REPO, env=env,
                                       stdout=subprocess.DEVNULL, stderr=err, text=True)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            stderr = err.read()
        seconds = time.perf_counter() - started
    # Linux reports ru_maxrss in KiB.
    return process.returncode, stderr.strip(), usage.ru_maxrss / 1024, seconds


def main() -> int:
    """Run both syncs against the bomb and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=float, default=1e9, help="decompressed bytes")
    args = parser.parse_args()
    worst = 0.0
    for source, (path, content_type) in SOURCES.items():
        server, base, compressed = start_bomb(args.size, content_type)
        try:
            code, stderr, peak, seconds = sync(source, base + path)
        finally:
            server.communicate(input="")
        lines = stderr.splitlines()
        worst = max(worst, peak)
        print(f"{source}: bomb {args.size / 1e6:,.0f} MB from {compressed / 1e6:.2f} MB gzip; "
              f"exit {code}, {len(lines)} stderr line(s), peak RSS {peak:.0f} MB, "
              f"{seconds:.1f} s")
        for line in lines:
            print(f"    {line}")
    print(f"worst peak RSS {worst:.0f} MB (goal < 300 MB)")
    return 0 if worst < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
