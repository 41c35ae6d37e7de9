"""`tracker backfill` and `tracker import`: the whole history, by requests or from files."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracker.cli.context import Context, pass_context
from tracker.config import FORUM_SOURCES

if TYPE_CHECKING:
    from tracker import store
    from tracker.ingest.base import Batch
    from tracker.sync.importer import ImportReport


@click.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@click.option("--pages", type=click.IntRange(min=1), help="Stop after this many pages per source.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]),
              help="Start (again) from this date instead of the saved backfill position.")
@pass_context
def backfill(obj: Context, sources: Sequence[str], pages: int | None,
             since: datetime | None) -> None:
    """Fetch the whole history of each forum (default: all three), oldest first.

    Polite (the source's delay, Retry-After, stops on a challenge page) and resumable: it has
    its own cursor, never moves the incremental one, and a killed run goes on from its last
    committed page. Exit status 1 if any source failed.
    """
    from tracker.cli.output import print_sync_summary
    from tracker.search.indexing import split_documents
    from tracker.sync.backfill import backfill_source, check_backfill_sources

    names = check_backfill_sources(sources)
    moment = since.replace(tzinfo=UTC) if since else None
    reports = []
    for name in names:
        meter = _Meter(name)

        def page_done(source: str, batch: Batch, counts: store.UpsertCounts,
                      meter: _Meter = meter) -> None:
            # Each committed page is split at once: keyword-searchable while the backfill runs
            # (well under a second a page, beside the source's 3 s delay).
            if counts.new or counts.updated:
                split_documents(obj.engine, obj.settings)
            meter.batch(source, batch, counts)

        reports.append(backfill_source(obj.engine, obj.settings, name, pages=pages, since=moment,
                                       on_batch=page_done))
        meter.close()
    print_sync_summary(reports)
    if any(report.status != "ok" for report in reports):
        sys.exit(1)


class _Meter:
    """Backfill progress: counts, rate and an ETA from how fast the dates advance."""

    def __init__(self, name: str) -> None:
        from tracker.cli.output import _stderr_console

        self.name, self.started, self.done = name, time.monotonic(), 0
        self.first: datetime | None = None
        self.console = _stderr_console()
        self.live = self.console.is_terminal

    def batch(self, source: str, batch: Batch, counts: store.UpsertCounts) -> None:
        """Called after each committed page."""
        self.done += counts.new + counts.updated + counts.unchanged
        elapsed = max(time.monotonic() - self.started, 1e-6)
        line = (f"{source}: {batch.note or 'page'} · {self.done} documents, "
                f"{self.done / elapsed:.0f}/s{self._eta(batch.note, elapsed)}")
        if self.live:
            self.console.print(line, end="\r", soft_wrap=True)
        else:
            click.echo(line, err=True)

    def _eta(self, note: str, elapsed: float) -> str:
        """Time left if the dates keep advancing at this run's pace (per stream)."""
        from tracker.ingest.forum import parse_time

        try:
            reached = parse_time(note.split()[-1])
        except (ValueError, IndexError):
            return ""
        self.first = self.first or reached
        now = datetime.now(UTC)
        covered = (reached - self.first).total_seconds()
        if covered <= 0:
            return ""
        left = (now - reached).total_seconds() * elapsed / covered
        return f", ~{left / 3600:.1f} h left for {note.split()[0]}"

    def close(self) -> None:
        """End the progress line."""
        if self.live:
            self.console.print()


@click.command(name="import")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would map where; store nothing.")
@click.option("--no-split", is_flag=True,
              help="Don't split imported documents into passages (keyword search) at once.")
@pass_context
def import_command(obj: Context, paths: Sequence[Path], dry_run: bool, no_split: bool) -> None:
    """Load documents from files: Alignment Research Dataset JSONL, or the corpus files
    (posts.jsonl.gz, papers.jsonl, comments.jsonl).

    Documents are keyed by their real site id, arXiv id or canonical URL, so a later sync or
    backfill updates them instead of adding a copy. Lines that cannot be mapped are counted
    and reported. After the import the new documents are split into passages, so they are
    keyword-searchable at once; `tracker index` (or `serve`) embeds them.
    """
    from tracker.sync.importer import import_file, parse_pool

    def plain(report: ImportReport) -> None:
        rate = report.documents / max(report.seconds, 1e-6)
        click.echo(f"{report.path.name}: line {report.lines} · {report.documents} documents, "
                   f"{rate:.0f}/s", err=True)

    with parse_pool() as pool:  # one set of parse workers for every file
        for path in paths:
            report = import_file(None if dry_run else obj.engine, path, dry_run=dry_run,
                                 on_batch=plain, pool=pool)
            _print_import(report, dry_run)
    if not dry_run and not no_split:
        _split(obj)


def _print_import(report: ImportReport, dry_run: bool) -> None:
    c = report.counts
    rate = report.documents / max(report.seconds, 1e-6)
    verb = "would import" if dry_run else "imported"
    click.echo(f"{report.path}: {report.format}, {report.lines} lines · {verb} "
               f"{report.documents} documents in {report.seconds:.1f} s ({rate:.0f}/s)"
               + ("" if dry_run else f": {c.new} new, {c.updated} updated, {c.unchanged} "
                  f"unchanged") + f"; {sum(report.skipped.values())} skipped")
    for where, n in report.mapped.most_common():
        click.echo(f"  → {where}: {n}")
    for reason, n in report.skipped.most_common():
        click.echo(f"  skipped {n}: {reason}")
    if dry_run:
        for example in report.examples:
            click.echo(f"  e.g. {example}")


def _split(obj: Context) -> None:
    """Passages for what was imported: the keyword index follows them at once."""
    from tracker.search.indexing import split_documents

    started = time.perf_counter()
    report = split_documents(obj.engine, obj.settings)
    click.echo(f"keyword index: {report.documents} documents split into "
               f"{report.passages_added} passages in {time.perf_counter() - started:.1f} s; "
               f"`tracker index` embeds them")


# --- what `tracker status` adds ---------------------------------------------------------------


def history_json(obj: Context) -> dict[str, Any]:
    """`history` (per forum: oldest stored date, backfill position) and `index` (per tier:
    passages, embedded, share, rate, ETA) for `tracker status --json`."""
    from tracker.sync.backfill import backfill_states

    forums = [s for s in FORUM_SOURCES if obj.settings.source(s).enabled]
    history = [
        {"source": s.source, "oldest": s.oldest.isoformat() if s.oldest else None,
         "backfill": s.positions, "backfill_done": s.done}
        for s in backfill_states(obj.engine, forums)
    ]
    tiers = [
        {"model": t.model, "passages": t.passages, "embedded": t.embedded,
         "share": round(t.share, 4), "rate": t.rate, "eta_seconds": t.eta_seconds}
        for t in _coverage(obj)
    ]
    return {"history": history, "index": tiers}


def _coverage(obj: Context) -> list[Any]:
    from tracker.store.coverage import tier_coverage
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        return tier_coverage(session=session, models=[obj.settings.index.model])


def print_history(obj: Context) -> None:
    """How far back each forum reaches, each index tier's coverage, and the first-run hint."""
    from tracker.sync.backfill import history_hint

    data = history_json(obj)
    for row in data["history"]:
        oldest = (row["oldest"] or "nothing stored")[:10]
        where = "done" if row["backfill_done"] else ", ".join(
            f"{k} at {v[:10]}" for k, v in row["backfill"].items()) or "not started"
        click.echo(f"history: {row['source']} reaches back to {oldest} (backfill: {where})")
    for tier in data["index"]:
        click.echo(f"index: {tier['model']}: {tier['embedded']} of {tier['passages']} passages "
                   f"embedded ({tier['share']:.0%})" + _rate(tier))
    hint = history_hint(obj.engine, obj.settings)
    if hint:
        click.echo(hint)


def _rate(tier: dict[str, Any]) -> str:
    if not tier["rate"]:
        return ""
    eta = tier["eta_seconds"] or 0.0
    return f", {tier['rate']:.1f}/s, {eta / 3600:.1f} h to full coverage"


def coverage_note(obj: Context) -> str | None:
    """One line for a search over a partly embedded store, else None."""
    tiers = _coverage(obj)
    partial = [t for t in tiers if t.embedded and t.share < 1.0]
    if not partial:
        return None
    t = partial[0]
    return (f"dense search covers {t.embedded} of {t.passages} passages ({t.share:.0%}) so far; "
            f"keyword search covers all; `tracker index` fills in the rest")
