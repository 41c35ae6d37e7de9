"""What `tracker index`, `tracker search` and `tracker similar` print.

Every string that came from a site passes through `clean_text`, so nothing a post contains
can reach the terminal as an escape sequence.
"""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from sqlalchemy import Engine

from tracker.config import Settings
from tracker.index.base import SearchFilters
from tracker.index.catalog import Catalog, DocumentInfo, PassageInfo
from tracker.index.hybrid import SearchResult
from tracker.index.query import highlight_spans
from tracker.jobs import IndexReport, index_documents
from tracker.text import clean_text

_PHASES = {"split": "splitting documents", "embed": "embedding passages"}
_PLAIN_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal


def run_index(engine: Engine, settings: Settings, *, limit: int | None = None) -> IndexReport:
    """`tracker index` with a progress bar and ETA on a terminal, plain lines otherwise."""
    console = Console(stderr=True, highlight=False, markup=False, emoji=False)
    if console.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            tasks: dict[str, Any] = {}

            def show(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(_PHASES[phase], total=total)
                bar.update(tasks[phase], completed=done, total=total)

            report = index_documents(engine, settings, progress=show, limit=limit)
    else:
        last = {"at": 0.0}
        started = time.monotonic()

        def plain(phase: str, done: int, total: int) -> None:
            now = time.monotonic()
            if now - last["at"] < _PLAIN_EVERY and done < total:
                return
            last["at"] = now
            rate = done / max(now - started, 1e-9)
            eta = f", ETA {(total - done) / rate:.0f} s" if rate and done < total else ""
            click.echo(f"index: {_PHASES[phase]} {done}/{total}{eta}", err=True)

        report = index_documents(engine, settings, progress=plain, limit=limit)
    print_index_report(report)
    return report


def print_index_report(report: IndexReport) -> None:
    """One summary line (and the rate of embedding when there was any)."""
    rate = ""
    if report.embedded and report.embed_seconds:
        rate = f" ({report.embedded / report.embed_seconds:.1f} passages/s)"
    click.echo(
        f"index: {report.documents} documents split, {report.passages_added} passages added, "
        f"{report.passages_removed} removed; {report.embedded} embedded with {report.model}"
        f"{rate}, {report.vectors_removed} vectors dropped"
        + (f"; {report.pending} passages still to embed" if report.pending else "")
    )


# --- results -----------------------------------------------------------------------------------

_SNIPPET_WORDS = 60


class Found(NamedTuple):
    """A search result with its document and best passage looked up."""

    rank: int
    result: SearchResult
    document: DocumentInfo
    passage: PassageInfo | None


def look_up(results: Sequence[SearchResult], catalog: Catalog) -> list[Found]:
    """The results' documents and passages, in two queries; results whose document is gone
    are left out (ranks keep counting them)."""
    docs = catalog.documents(r.document_id for r in results)
    passages = catalog.passages(r.passage_id for r in results if r.passage_id is not None)
    found = []
    for rank, result in enumerate(results, start=1):
        doc = docs.get(result.document_id)
        if doc is not None:
            passage = passages.get(result.passage_id) if result.passage_id is not None else None
            found.append(Found(rank, result, doc, passage))
    return found


def results_json(query: str, results: Sequence[SearchResult], catalog: Catalog,
                 filters: SearchFilters) -> dict[str, Any]:
    """The `tracker search --json` / `tracker similar --json` document."""
    rows = []
    for rank, result, doc, passage in look_up(results, catalog):
        rows.append({
            "rank": rank,
            "score": round(result.score, 6),
            "document": _document_json(doc),
            "post": _document_json(doc.post) if doc.post is not None else None,
            "passage": None if passage is None else {
                "id": passage.id, "ordinal": passage.ordinal, "start": passage.start,
                "end": passage.end, "text": clean_text(passage.text),
                "highlights": [list(span) for span in highlight_spans(passage.text, query)],
            },
            "matched": {"keyword_rank": result.keyword_rank, "vector_rank": result.vector_rank,
                        "title": result.title_coverage, "author": result.author},
        })
    return {"query": query, "filters": _filters_json(filters), "results": rows}


def _document_json(doc: DocumentInfo) -> dict[str, Any]:
    return {"id": doc.id, "source": doc.source, "native_id": doc.native_id, "kind": doc.kind,
            "title": clean_text(doc.title), "url": doc.url,
            "authors": [clean_text(a) for a in doc.authors],
            "posted_at": doc.posted_at.isoformat() if doc.posted_at else None,
            "karma": doc.score, "af": doc.af}


def _filters_json(filters: SearchFilters) -> dict[str, Any]:
    return {"source": list(filters.sources), "kind": list(filters.kinds),
            "author": list(filters.authors), "tag": list(filters.tags),
            "since": filters.since.isoformat() if filters.since else None,
            "until": filters.until.isoformat() if filters.until else None,
            "min_score": filters.min_score}


def print_results(query: str, results: Sequence[SearchResult], catalog: Catalog) -> None:
    """Results as readable text: title, byline, the best passage with matches highlighted."""
    console = Console(highlight=False, markup=False, emoji=False, soft_wrap=True)
    plain = not console.is_terminal
    for rank, result, doc, passage in look_up(results, catalog):
        title = Text(f"{rank}. ", style="bold")
        title.append(clean_text(doc.title) or "(untitled)", style="bold")
        title.append(f"  [{result.score:.3f}]", style="dim")
        console.print(title)
        console.print(Text("   " + _byline(doc), style="dim"))
        if doc.kind == "comment":
            on = doc.post.title if doc.post else f"post {doc.post_native_id}"
            console.print(Text(f"   comment on: {clean_text(on)}", style="dim"))
        if passage is not None and passage.text:
            console.print(_snippet(passage.text, query, plain=plain))
        if doc.url:
            console.print(Text(f"   {doc.url}", style="blue"))
    if not results:
        click.echo("no results", err=True)


def _byline(doc: DocumentInfo) -> str:
    parts = [", ".join(clean_text(a) for a in doc.authors) or "unknown author",
             f"{doc.posted_at:%Y-%m-%d}" if doc.posted_at else "undated",
             doc.source + (" · Alignment Forum" if doc.af and doc.source != "alignmentforum"
                           else "")]
    if doc.score is not None:
        parts.append(f"{doc.score:g} karma")
    parts.append(f"{doc.kind} {doc.id}")
    return " · ".join(parts)


def snippet_spans(text: str, query: str) -> tuple[str, list[tuple[int, int]]]:
    """About 60 words of a passage around its densest matches, on one line, and the spans of
    the query words in it."""
    text = clean_text(text)
    spans = highlight_spans(text, query)
    words = [m.span() for m in re.finditer(r"\S+", text)]
    start, end = 0, len(text)
    if len(words) > _SNIPPET_WORDS:
        first = _densest_window(words, spans)
        last = min(first + _SNIPPET_WORDS, len(words)) - 1
        start, end = words[first][0], words[last][1]
    lead = "…" if start else ""
    snippet = lead + text[start:end].replace("\n", " ") + ("…" if end < len(text) else "")
    shift = len(lead) - start
    inside = [(s + shift, e + shift) for s, e in spans if s >= start and e <= end]
    return snippet, inside


def _snippet(text: str, query: str, *, plain: bool) -> Text:
    """The snippet with its matches highlighted (marked `**word**` when not a terminal)."""
    snippet, spans = snippet_spans(text, query)
    out = Text("   ")
    cursor = 0
    for s, e in spans:
        out.append(snippet[cursor:s])
        word = snippet[s:e]
        out.append(f"**{word}**" if plain else word, style="bold yellow")
        cursor = e
    out.append(snippet[cursor:])
    return out


def _densest_window(words: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> int:
    """Index of the first word of the window with the most highlighted words."""
    starts = sorted(s for s, _ in spans)
    best, best_count = 0, -1
    for first in range(0, max(len(words) - _SNIPPET_WORDS, 0) + 1, 5):
        last = min(first + _SNIPPET_WORDS, len(words)) - 1
        lo, hi = words[first][0], words[last][1]
        count = bisect.bisect_right(starts, hi) - bisect.bisect_left(starts, lo)
        if count > best_count:
            best, best_count = first, count
    return best
