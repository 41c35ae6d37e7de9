"""What the CLI prints: sync progress and summaries, status, documents and links.

Every string that came from a site
passes through `clean_text` again here, so nothing a post contains can reach the terminal as an
escape sequence, even from rows stored long ago.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine
from sqlmodel import Session

from tracker import store
from tracker.config import Settings
from tracker.ingest.base import Batch
from tracker.models import Document, DocumentPublic
from tracker.present import count_below, paper_lines, thread_children
from tracker.sync.feeds import FeedInfo
from tracker.sync.sources import SyncReport, sync_source
from tracker.text import clean_text


def _stderr_console() -> Console:
    return Console(stderr=True, highlight=False, markup=False, emoji=False)


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "never"


# --- sync ------------------------------------------------------------------------------------


def run_syncs(
    engine: Engine, settings: Settings, names: Sequence[str], *, since: datetime | None
) -> list[SyncReport]:
    """Sync each source in turn with a progress bar on a terminal, plain lines otherwise."""
    console = _stderr_console()
    reports = []
    if console.is_terminal:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            for name in names:
                task = progress.add_task(name, total=None)
                totals = store.UpsertCounts()

                def hook(source: str, batch: Batch, counts: store.UpsertCounts,
                         task: Any = task, totals: store.UpsertCounts = totals) -> None:
                    totals.add(counts)
                    # Drawn now, not at the next tick (10 a second): a quick sync would
                    # otherwise end before its first page's line was ever shown.
                    progress.update(task, description=f"{source}: {_progress_line(batch, totals)}",
                                    refresh=True)

                reports.append(sync_source(engine, settings, name, since=since, on_batch=hook))
                progress.remove_task(task)
    else:
        for name in names:
            totals = store.UpsertCounts()

            def plain(source: str, batch: Batch, counts: store.UpsertCounts,
                      totals: store.UpsertCounts = totals) -> None:
                totals.add(counts)
                click.echo(f"{source}: {_progress_line(batch, totals)}", err=True)

            reports.append(sync_source(engine, settings, name, since=since, on_batch=plain))
    print_sync_summary(reports)
    return reports


def _progress_line(batch: Batch, totals: store.UpsertCounts) -> str:
    where = f"at {batch.note} " if batch.note else ""
    return (f"{where}· {totals.new} new, {totals.updated} updated, {totals.unchanged} unchanged"
            + (f", {totals.deleted} deleted" if totals.deleted else ""))


def print_sync_summary(reports: Sequence[SyncReport]) -> None:
    """One line per source with its counts, then the error lines of failed sources."""
    for report in reports:
        c = report.counts
        click.echo(
            f"{report.source}: {report.status} · {c.new} new, {c.updated} updated, "
            f"{c.unchanged} unchanged, {c.deleted} deleted, {report.failed} failed"
        )
    for report in reports:
        if report.error:
            click.echo(f"error: {clean_text(report.error)}", err=True)


# --- status ----------------------------------------------------------------------------------


def status_json(
    rows: Sequence[store.SourceStatus], total: int, settings: Settings,
    feeds: Sequence[FeedInfo] = (),
) -> dict[str, Any]:
    """The `tracker status --json` document."""

    def run(run: Any) -> dict[str, Any] | None:
        if run is None:
            return None
        return {
            "status": run.status,
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "new": run.new, "updated": run.updated, "unchanged": run.unchanged,
            "failed": run.failed, "error": run.error, "retry_after": _iso(run.retry_after),
        }

    return {
        "database": settings.sqlalchemy_url.split("://", 1)[0],
        "documents": total,
        "sources": [
            {
                "source": row.source,
                "enabled": settings.source(row.source).enabled,
                "documents": row.documents,
                "deleted": row.deleted,
                "last_run": run(row.last_run),
                "last_success": _iso(row.last_success),
                "last_error": run(row.last_error),
            }
            for row in rows
        ],
        "feeds": feeds_json(feeds),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def print_status(
    rows: Sequence[store.SourceStatus], total: int, settings: Settings,
    feeds: Sequence[FeedInfo] = (),
) -> None:
    """A table of sources: documents, last sync, last success, last error; then the feeds."""
    table = Table(title=f"{total} documents", title_justify="left")
    for header in ("source", "documents", "last sync", "last success", "last error"):
        table.add_column(header)
    for row in rows:
        docs = ", ".join(f"{n} {_plural(kind)}" for kind, n in sorted(row.documents.items())) \
            or "none"
        last = row.last_run
        last_sync = f"{_when(last.started_at)} ({last.status})" if last else "never"
        error = ""
        if row.last_error is not None and row.last_error.error:
            error = f"{_when(row.last_error.finished_at)}: {row.last_error.error}"
        name = row.source + ("" if settings.source(row.source).enabled else " (disabled)")
        table.add_row(Text(name), Text(docs), Text(last_sync), Text(_when(row.last_success)),
                      Text(clean_text(error)))
    Console(highlight=False, markup=False, emoji=False, width=_width()).print(table)
    if feeds:
        print_feeds(feeds, urls=False)


# --- feeds -----------------------------------------------------------------------------------


def feeds_json(infos: Sequence[FeedInfo]) -> list[dict[str, Any]]:
    """Each feed and its health, for `tracker feeds list --json` and `status --json`."""
    return [
        {
            "name": info.feed.name,
            "url": info.feed.url,
            "origin": info.feed.origin,
            "title": info.feed.title or info.state.title,
            "entries": info.entries,
            "items": info.state.items,
            "last_checked": _iso(info.state.last_checked),
            "last_success": _iso(info.state.last_success),
            "last_status": info.state.last_status,
            "last_error": info.state.last_error,
            "last_error_at": _iso(info.state.last_error_at),
            "warning": info.state.warning,
            "substack": info.state.substack,
            "backfilled": info.state.backfilled,
        }
        for info in infos
    ]


def print_feeds(infos: Sequence[FeedInfo], *, urls: bool = True) -> None:
    """One health line per feed (errors are long and must not be cut), under its URL."""
    click.echo(f"{len(infos)} feeds:")
    for info in infos:
        if urls:
            added = " (added)" if info.feed.origin == "added" else ""
            click.echo(clean_text(f"  {info.feed.name}{added}  {info.feed.url}"))
            click.echo(clean_text(f"    {_feed_health(info)}"))
        else:
            click.echo(clean_text(f"  {info.feed.name}: {_feed_health(info)}"))


def _feed_health(info: FeedInfo) -> str:
    """`ok · 6 entries (6 in feed) · last success … · last error …: why · warning: …`."""
    state = info.state
    parts = [state.last_status or "never read"]
    in_feed = f" ({state.items} in feed)" if state.items is not None else ""
    parts.append(f"{info.entries} entries{in_feed}")
    parts.append(f"last success {_when(state.last_success)}")
    if state.last_error:
        parts.append(f"last error {_when(state.last_error_at)}: {state.last_error}")
    if state.warning:
        parts.append(f"warning: {state.warning}")
    return " · ".join(parts)


def _plural(kind: str) -> str:
    return "entries" if kind == "entry" else f"{kind}s"


def _width() -> int | None:
    return None if sys.stdout.isatty() else 160


# --- documents -------------------------------------------------------------------------------


def render_document(
    session: Session,
    doc: DocumentPublic,
    thread: Sequence[Document],
    parent: Document | None,
    *,
    depth: int,
) -> str:
    """A document as readable text: header, metadata, body, then its comment thread."""
    authors = ", ".join(a.name for a in doc.authors) or "unknown author"
    lines = [clean_text(doc.title) or "(untitled)", "=" * min(len(doc.title) or 10, 78)]
    facts = [authors, _when(doc.posted_at), doc.source + (" · Alignment Forum" if doc.af else "")]
    if doc.score is not None:
        facts.append(f"{doc.score:g} karma")
    if doc.comment_count is not None:
        facts.append(f"{doc.comment_count} comments")
    lines.append(" · ".join(facts))
    lines.append(f"{doc.kind} {doc.id} ({doc.source}:{doc.native_id})  {doc.url or ''}")
    if doc.link_url:
        lines.append(f"link post → {doc.link_url}")
    if doc.source == "arxiv":
        lines += paper_lines(doc)
    for other, reason in store.same_work(session=session, document_id=doc.id):
        lines.append(f"same work as [{other.id}] {other.source}:{other.native_id} "
                     f"{other.url or ''} ({reason})")
    if parent is not None:
        lines.append(f"on: {clean_text(parent.title)} ({parent.id})")
    if doc.tags:
        lines.append("tags: " + ", ".join(doc.tags))
    if doc.deleted:
        lines.append("[deleted on the site; this is the last text fetched]")
    lines += ["", doc.body_text or "(no text)"]
    if thread:
        lines += ["", f"--- {len(thread)} comments ---", *_thread_lines(session, thread, depth)]
    return clean_text("\n".join(lines))


def _thread_lines(session: Session, comments: Sequence[Document], depth: int) -> list[str]:
    children = thread_children(comments)
    lines: list[str] = []
    stack = [(c, 0) for c in reversed(children.get(None, []))]
    while stack:
        comment, level = stack.pop()
        indent = "  " * level
        replies = children.get(comment.native_id, [])
        if level >= depth:
            lines.append(f"{indent}[+ {1 + count_below(children, comment.native_id)} more, "
                         f"`tracker show {comment.id}`]")
            continue
        assert comment.id is not None
        authors = store.document_authors(session=session, document_id=comment.id)
        who = ", ".join(a.name for a in authors) or "unknown"
        score = f" · {comment.score:g}" if comment.score is not None else ""
        lines.append(f"{indent}▸ {who} · {_when(comment.posted_at)}{score} · {comment.id}")
        text = "[deleted]" if comment.deleted else comment.body_text
        lines += [f"{indent}  {line}" for line in text.splitlines() if line.strip()]
        stack += [(reply, level + 1) for reply in reversed(replies)]
    return lines


# --- links -----------------------------------------------------------------------------------


def print_links(document: Document, rows: Sequence[store.LinkRow], cited_by: bool) -> None:
    """Citations one per line: the stored document when resolved, else the URL."""
    verb = "is cited by" if cited_by else "cites"
    click.echo(clean_text(f"{document.title or document.native_id} ({document.id}) {verb} "
                          f"{len(rows)}:"))
    for row in rows:
        if row.document is not None:
            target = f"[{row.document.id}] {row.document.title} ({row.document.kind})"
        else:
            target = row.url
        anchor = f" — “{row.anchor_text}”" if row.anchor_text and not cited_by else ""
        click.echo(clean_text(f"  {row.kind:8} {target}{anchor}"))
