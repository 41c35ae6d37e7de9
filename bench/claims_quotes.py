"""Check that every quote of bench/claims_eval.jsonl occurs verbatim in its post's text.

    .venv/bin/python bench/claims_quotes.py

The text is what the store holds: the corpus row through the real forum parser (as
bench/claims_db.py stores it), so `claim tag --quote` and the benches find each quote exactly.
Prints one line per claim (posts, for/against) and one per failing quote; exit 1 on a failure.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.claims_db import CLAIMS, CORPUS  # noqa: E402


def post_text(row: dict[str, Any]) -> str:
    """The body text the store keeps for a corpus post."""
    from tests.servers.forummagnum.corpus import _post_from_row
    from tracker.config import ForumSettings
    from tracker.ingest.forum import ForumSource

    site = "eaforum" if row["forum"] == "eaforum" else "lesswrong"
    return ForumSource(site, ForumSettings())._post_document(_post_from_row(row)).body_text


def main() -> int:
    items = [json.loads(line) for line in CLAIMS.open(encoding="utf-8") if line.strip()]
    wanted = {p["id"] for item in items for p in item["posts"]}
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        rows = {r["id"]: r for r in map(json.loads, lines) if r["id"] in wanted}
    failures = 0
    for item in items:
        posts = item["posts"]
        sides = [sum(p["stance"] == s for p in posts) for s in ("supports", "opposes")]
        print(f"{len(posts)} posts, +{sides[0]} -{sides[1]}  {item['claim'][:70]}")
        for post in posts:
            row = rows.get(post["id"])
            problem = "not in the corpus" if row is None else \
                None if post["quote"] in post_text(row) else "quote not found verbatim"
            if problem:
                failures += 1
                print(f"  FAIL {post['id']} ({post['title'][:40]}): {problem}")
    total = sum(len(i["posts"]) for i in items)
    print(f"{len(items)} claims, {total} judged posts, {failures} failing quotes")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
