"""Command line: `python -m tests.servers.forum --corpus shared/corpus [--full]`."""

from __future__ import annotations

import argparse
import contextlib
import gc
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

from tests.servers.forummagnum.corpus import find_corpus, load_corpus_sites
from tests.servers.forummagnum.server import ForumServer
from tests.servers.forummagnum.site import Site


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the corpus until killed: `python -m tests.servers.forum --corpus shared/corpus`."""
    parser = argparse.ArgumentParser(prog="python -m tests.servers.forum", description=main.__doc__)
    parser.add_argument("--corpus", type=Path, default=None, help="the shared/corpus folder")
    parser.add_argument("--full", action="store_true", help="serve posts.jsonl.gz, not the sample")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated comments")
    parser.add_argument("--comments", default="0:12", help="comments per post, MIN:MAX")
    args = parser.parse_args(argv)
    corpus = args.corpus or find_corpus(Path.cwd())
    low, high = (int(x) for x in args.comments.split(":"))
    loaded = load_corpus_sites(
        corpus, full=args.full, seed=args.seed, per_post=(low, high), comments=high > 0
    )
    gc.freeze()  # keep ~1.5M loaded objects out of cyclic GC: its passes added 60-80 ms stalls
    sites = [
        Site.lesswrong(loaded["lesswrong"]),
        Site.alignmentforum(loaded["lesswrong"]),
        Site.eaforum(loaded["eaforum"]),
    ]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ForumServer(host=args.host, port=args.port, sites=sites) as server:
        for name in server.sites:
            print(f"{name} {server.site_url(name)}", flush=True)
        print(f"control {server.control_url}", flush=True)
        print("ready", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0
