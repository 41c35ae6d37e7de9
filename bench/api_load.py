"""16 concurrent clients against `tracker api` for 60 s: idle, then while `tracker sync` and
`tracker index` write to the same store.

    .venv/bin/python bench/api_load.py [--home .bench/api] [--seconds 60] [--clients 16]

The store is bench/corpus_db.py's (`--comments 0:2`) after `tracker index --limit 0` (passages
and keyword index, no vectors: the search is keyword + fuzzy). Requests mix search (60%),
documents (20%) and citations (20%). Prints requests/s, p50/p95/p99 latency and errors.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_db import REPO, bench_env  # noqa: E402

from ingest import start_server  # noqa: E402

TRACKER = str(REPO / ".venv" / "bin" / "tracker")
WORDS = ["mesa optimizer", "corrigibility", "reward hacking", "inner alignment",
         "interpretability", "deceptive alignment", "AI timelines", "value learning",
         "Goodhart", "scalable oversight", "existential risk", "debate"]


def run_clients(url: str, ids: list[int], seconds: float, clients: int) -> dict[str, float]:
    """`clients` threads, each with its own connection, for `seconds`; latency figures."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=url, timeout=30) as http:
            while time.monotonic() < stop:
                pick = rng.random()
                if pick < 0.6:
                    path = f"/v1/search?q={rng.choice(WORDS)}&limit=10"
                elif pick < 0.8:
                    path = f"/v1/documents/{rng.choice(ids)}"
                else:
                    path = f"/v1/citations/{rng.choice(ids)}"
                started = time.perf_counter()
                try:
                    ok = http.get(path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - started
                with lock:
                    latencies.append(took)
                    errors[0] += not ok

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(int(p * len(latencies)), len(latencies) - 1)] * 1000

    return {"requests": len(latencies), "rps": len(latencies) / wall, "p50": pct(0.5),
            "p95": pct(0.95), "p99": pct(0.99), "errors": errors[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=REPO / ".bench" / "api")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--port", type=int, default=18799)
    args = parser.parse_args()
    db = sqlite3.connect(args.home / "tracker.db")
    passages = db.execute("SELECT count(*) FROM passage").fetchone()[0]
    ids = [r[0] for r in db.execute("SELECT id FROM document WHERE kind = 'post' LIMIT 5000")]
    db.close()
    print(f"store: {passages} passages, {args.clients} clients, {args.seconds:g} s per run")
    env = bench_env(args.home)
    api = subprocess.Popen([TRACKER, "api", "--port", str(args.port)], env=env)
    url = f"http://127.0.0.1:{args.port}"
    try:
        _wait(url)
        httpx.get(f"{url}/v1/search?q=warm", timeout=60)
        _report("idle", run_clients(url, ids, args.seconds, args.clients))
        writers = _start_writers(env)
        try:
            _report("while sync + index write", run_clients(url, ids, args.seconds,
                                                            args.clients))
        finally:
            for process in writers:
                process.terminate()
                process.wait(timeout=60)
    finally:
        api.terminate()
        api.wait(timeout=30)


def _start_writers(env: dict[str, str]) -> list[subprocess.Popen[str]]:
    """`tracker sync lesswrong` from the local forum server (new generated comments) and
    `tracker index` embedding passages with the real model, both on the benchmark store."""
    server, urls = start_server("3:5")
    env = dict(env, TRACKER_SOURCES__LESSWRONG__ENDPOINT=urls["lesswrong"],
               TRACKER_SOURCES__LESSWRONG__DELAY="0")
    sync = subprocess.Popen([TRACKER, "sync", "lesswrong", "--since", "2000-01-01"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    index = subprocess.Popen([TRACKER, "index"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, text=True)
    return [index, sync, server]


def _wait(url: str) -> None:
    for _ in range(600):
        try:
            httpx.get(f"{url}/v1/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("tracker api did not start")


def _report(label: str, r: dict[str, float]) -> None:
    print(f"{label}: {r['requests']:.0f} requests, {r['rps']:.1f} req/s, p50 {r['p50']:.0f} ms, "
          f"p95 {r['p95']:.0f} ms, p99 {r['p99']:.0f} ms, {r['errors']:.0f} errors", flush=True)


if __name__ == "__main__":
    main()
