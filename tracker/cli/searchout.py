"""What `tracker index`, `tracker search` and `tracker similar` print.

Every string that came from a site passes through `clean_text`, so nothing a post contains can
reach the terminal as an escape sequence.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

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
from tracker.index.catalog import Catalog, DocumentInfo
from tracker.index.hybrid import SearchResult
from tracker.search.indexing import IndexReport, index_documents
from tracker.search.results import look_up, snippet_spans
from tracker.text import clean_text

_PHASES = {"split": "splitting documents", "keywords": "keyword index",
           "embed": "embedding passages", "static": "embedding passages (static tier)",
           "onnx": "exporting the query encoder to ONNX (once, ~30 s)"}
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
    if report.static is not None:
        print_index_report(report.static)
    rate = ""
    if report.embedded and report.embed_seconds:
        rate = f" ({report.embedded / report.embed_seconds:.1f} passages/s)"
    click.echo(
        f"index: {report.documents} documents split, {report.passages_added} passages added, "
        f"{report.passages_removed} removed; {report.embedded} embedded with {report.model}"
        f"{rate}, {report.vectors_removed} vectors dropped"
        + (f"; {report.pending} passages still to embed" if report.pending else "")
    )
    if report.keyword_rebuilt and report.keyword_rebuilt != "missing":
        click.echo(f"index: the keyword index was {report.keyword_rebuilt}; rebuilt it from "
                   f"the store")
    if report.analyzed:
        click.echo("index: refreshed PostgreSQL's planner statistics (ANALYZE) after the bulk load")
    if report.onnx_exported:
        click.echo(f"index: exported {report.model} to ONNX; searches no longer load torch")


# --- results -----------------------------------------------------------------------------------


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
            console.print(Text(f"   {clean_text(doc.url)}", style="blue"))
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
