"""Build (once) a small store for bench/claims_quality.py: the judged posts plus distractors.

    .venv/bin/python bench/claims_db.py [--home .bench/claims] [--distractors 700]

The full corpus takes hours to embed on 2 cores (78k passages); this store holds every post
that bench/claims_eval.jsonl judges (whole), and `--distractors` other corpus posts with a body,
cut to their first 1,500 characters so that each adds two or three passages: half chosen for
sharing title words with the claims (hard distractors), half at random (seed 12). Posts go
through the real forum parser (ForumSource's post conversion: HTML→text, links, aliases) and
`store.upsert_documents`; then `tracker index` embeds them with all-MiniLM-L6-v2.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.corpus_db import bench_env  # noqa: E402

DEFAULT_HOME = REPO / ".bench" / "claims"
CORPUS = REPO.parent / "shared" / "corpus" / "posts.jsonl.gz"
CLAIMS = REPO / "bench" / "claims_eval.jsonl"
_CUT = 1500  # characters of HTML kept of a distractor
_STOP_WORDS = """the a an of and or to in is are be that this for on with as by it not no
we our will can does do than more most what how why ai"""
_STOP = frozenset(_STOP_WORDS.split())


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{3,}", text.lower()) if w not in _STOP}


def choose(rows: list[dict[str, Any]], judged: set[str], claims: list[str],
           distractors: int) -> list[dict[str, Any]]:
    """The judged posts and the distractors, as corpus rows."""
    keep = [r for r in rows if r["id"] in judged]
    others = [r for r in rows if r["id"] not in judged and r.get("body_html")
              and r["forum"] in ("lesswrong", "alignmentforum", "eaforum")]
    claim_words = Counter(w for c in claims for w in _words(c))
    scored = sorted(others, key=lambda r: (-sum(claim_words[w] > 0 for w in _words(r["title"])),
                                           r["id"]))
    hard = scored[: distractors // 2]
    rest = [r for r in others if r not in hard]
    extra = random.Random(12).sample(rest, min(len(rest), distractors - len(hard)))
    for row in hard + extra:
        row["body_html"] = row["body_html"][:_CUT]
    return keep + hard + extra


def build(home: Path, distractors: int) -> None:
    """Write the store into `home` and embed what is new."""
    from tests.servers.forummagnum.corpus import _post_from_row
    from tracker import store
    from tracker.config import ForumSettings, load_settings
    from tracker.ingest.forum import ForumSource
    from tracker.store.engine import make_engine, session_scope

    # Re-running adds what a grown claim set needs; `tracker index` embeds only new passages.
    items = [json.loads(line) for line in CLAIMS.open(encoding="utf-8") if line.strip()]
    judged = {p["id"] for item in items for p in item["posts"]}
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    chosen = choose(rows, judged, [i["claim"] for i in items], distractors)
    home.mkdir(parents=True, exist_ok=True)
    settings = load_settings(database_url=f"sqlite:///{home / 'tracker.db'}")
    engine = make_engine(settings.sqlalchemy_url)
    sources = {"lw": ForumSource("lesswrong", ForumSettings()),
               "ea": ForumSource("eaforum", ForumSettings())}
    documents = []
    for row in chosen:
        site = "ea" if row["forum"] == "eaforum" else "lw"
        documents.append(sources[site]._post_document(_post_from_row(row)))
    with session_scope(engine) as session:
        counts = store.upsert_documents(session=session, documents=documents)
    engine.dispose()
    print(f"{len(documents)} posts stored ({counts}); {len(judged)} judged")
    started = time.perf_counter()
    subprocess.run([str(REPO / ".venv" / "bin" / "tracker"), "index"], env=bench_env(home),
                   check=True)
    print(f"indexed in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--distractors", type=int, default=700)
    args = parser.parse_args()
    build(args.home.resolve(), args.distractors)


if __name__ == "__main__":
    main()
