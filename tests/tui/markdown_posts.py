"""Real markdown bodies from the corpus for the reader's tests (read, never copied)."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

DONT_ALIGN = "fopZesxLCGAXqqaPv"
"""TurnTrout, "Don't align agents to evaluations of plans": lists, quotes, emphasis, links,
`<hr/>` and footnotes in raw markdown."""
WITHOUT_ROBUSTNESS = "turntrout.com/alignment-without-total-robustness"
"""TurnTrout, "Alignment allows 'nonrobust' decision-influences…": nested lists, inline code."""


@functools.cache
def corpus_markdown(corpus: Path, key: str) -> tuple[str, str]:
    """(title, body_markdown) of the post whose id or URL is `key`."""
    with gzip.open(corpus / "posts.jsonl.gz", "rt", encoding="utf-8") as rows:
        for line in rows:
            if key not in line:
                continue
            row = json.loads(line)
            if key in (row["id"], (row.get("turntrout_permalink") or "").split("//")[-1]):
                return row["title"], row["body_markdown"]
    raise AssertionError(f"{key} is not in {corpus}/posts.jsonl.gz")
