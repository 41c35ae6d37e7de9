"""Plain-text facts about documents that the CLI and the TUI both show:

a paper's identifiers, a comment thread's shape.
"""

from __future__ import annotations

from collections.abc import Sequence

from tracker.models import Document, DocumentPublic


def paper_lines(doc: DocumentPublic) -> list[str]:
    """A paper's arXiv id, categories, DOI, journal and PDF link."""
    extra = doc.extra
    facts = [f"arXiv {extra.get('arxiv_id', doc.native_id)}"
             + (f"v{extra['version']}" if extra.get("version") else "")]
    if extra.get("categories"):
        facts.append(" ".join(str(c) for c in extra["categories"]))
    for key, label in (("doi", "DOI"), ("journal_ref", "in"), ("comment", "comment")):
        if extra.get(key):
            facts.append(f"{label}: {extra[key]}")
    lines = [" · ".join(facts)]
    if extra.get("pdf_url"):
        lines.append(f"PDF: {extra['pdf_url']}")
    return lines


def thread_children(comments: Sequence[Document]) -> dict[str | None, list[Document]]:
    """Each comment's replies by the parent's native id; top-level comments (and replies
    whose parent is not stored) under None."""
    children: dict[str | None, list[Document]] = {}
    ids = {c.native_id for c in comments}
    for comment in comments:
        parent = comment.parent_id if comment.parent_id in ids else None
        children.setdefault(parent, []).append(comment)
    return children


def count_below(children: dict[str | None, list[Document]], native_id: str) -> int:
    """How many comments are below this one, at every depth."""
    total, stack = 0, list(children.get(native_id, []))
    while stack:
        node = stack.pop()
        total += 1
        stack += children.get(node.native_id, [])
    return total
