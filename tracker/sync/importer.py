"""`tracker import`: bulk loading from downloaded files (the Alignment Research Dataset's JSONL,
the corpus files) through the same upsert as a sync, in large transactions.

Documents are keyed by their real site id, arXiv id or canonical URL, so a later sync or
backfill updates them (keeping a revision where the text differs) instead of adding a copy.
Lines that cannot be mapped are counted by reason, never dropped silently.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from tracker import store
from tracker.errors import ConfigError, TrackerError
from tracker.ingest.dumps import (
    Line,
    RawLine,
    Unmapped,
    converter,
    detect_format,
    open_lines,
    parse_line,
    read_raw_lines,
)
from tracker.models import DocumentCreate
from tracker.store.engine import session_scope
from tracker.store.history import owners_of_keys
from tracker.sync.importwire import Packed, pack, unpack

# Documents per transaction: 2,000 keeps a batch's IN-lists and memory small (~20 MB of
# bodies) while the per-commit cost (WAL sync, alias resolution) is spread thin.
BATCH = 2000
_EXAMPLES = 5
# Sources whose documents are keyed by their own ids; the rest are keyed by canonical URL and
# may already be stored under another name (a feed that syncs the same blog).
_KEYED_BY_ID = frozenset({"lesswrong", "eaforum", "arxiv", "arbital"})


@dataclass
class ImportReport:
    """What one file did (or, in a dry run, would do)."""

    path: Path
    format: str = ""
    lines: int = 0
    counts: store.UpsertCounts = field(default_factory=store.UpsertCounts)
    mapped: Counter[str] = field(default_factory=Counter)
    """`source kind` → documents mapped there."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Reason → lines skipped for it."""
    examples: list[str] = field(default_factory=list)
    """A few `line N: record → source:native_id (kind)` lines, for `--dry-run`."""
    seconds: float = 0.0

    @property
    def documents(self) -> int:
        """Documents mapped (written, or in a dry run, that would be)."""
        return sum(self.mapped.values())


ImportHook = Callable[[ImportReport], None]


def import_file(
    engine: Engine | None, path: Path, *, dry_run: bool = False, batch_size: int = BATCH,
    on_batch: ImportHook | None = None, workers: int | None = None,
    pool: ParsePool | None = None,
) -> ImportReport:
    """Import one file; `engine` may be None for a dry run. Raises TrackerError for a file that
    is not JSONL of a known shape (before anything is written). `pool` (from `parse_pool`)
    keeps the parse workers across files; without it the file gets its own."""
    report = ImportReport(path=path)
    started = time.perf_counter()
    try:
        handle = open_lines(path)
    except OSError as e:
        raise TrackerError(f"{path}: cannot read it ({e.strerror}); give a readable file") from e
    with handle, contextlib.ExitStack() as stack:
        stack.enter_context(_fewer_collections())
        lines = read_raw_lines(handle)
        first, parsed = _first_record(lines, path, report)
        report.format = detect_format(parsed.record or {}, path)
        chunks = _chunks(_chain(first, lines), batch_size)
        head = list(itertools.islice(chunks, 2))
        if pool is None and len(head) > 1:  # one chunk is not worth starting processes for
            pool = stack.enter_context(parse_pool(workers))
        for documents, part in _converted(itertools.chain(head, chunks), report.format, pool):
            _merge(report, part)
            _flush(engine, documents, report, dry_run, on_batch, started)
    report.seconds = time.perf_counter() - started
    return report


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Cyclic garbage collection rarely, and never over what existed before, while importing.

    The writer allocates millions of short-lived objects (models, row dicts, SQLAlchemy
    parameters) beside a large heap of long-lived ones (modules, mappers): with the default
    threshold (700) the collector ran ~2,400 times and took 1.9 of the writer's 8.6 CPU-s for
    the corpus; at 50,000 with the older heap frozen it took 0.2. Cyclic garbage is still
    collected, every 50,000 allocations. The thresholds are put back afterwards."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@dataclass(frozen=True)
class ParsePool:
    """Parse worker processes, kept for every file of one import."""

    executor: Executor
    workers: int


@contextlib.contextmanager
def parse_pool(workers: int | None = None) -> Iterator[ParsePool | None]:
    """Worker processes that parse and normalise chunks while this process writes; None where
    one process is all there is (`workers` < 2)."""
    # Parsing costs ~0.8x the single writer's CPU (bench/import.py), so more than a few
    # workers only add memory (a chunk in flight each) without adding speed.
    workers = workers if workers is not None else min(_cores(), 4)
    if workers < 2:
        yield None
        return
    # spawn, not fork: the parent may hold SQLite connections and (under serve) threads.
    # Each worker spends ~0.7 CPU-s importing; one pool for all files pays that once.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as executor:
        yield ParsePool(executor, workers)


def _cores() -> int:
    """CPUs this process may run on (a container's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def _chunks(lines: Iterator[RawLine], size: int) -> Iterator[list[RawLine]]:
    chunk: list[RawLine] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _converted(
    chunks: Iterator[list[RawLine]], fmt: str, pool: ParsePool | None
) -> Iterator[tuple[list[DocumentCreate], ImportReport]]:
    """Chunks converted in order, in worker processes while this one writes: JSON parsing
    and HTML normalisation are ~half of an import's CPU time (bench/import.py); this process
    only reads raw lines and writes."""
    if pool is None:
        for chunk in chunks:
            packed, part = convert_chunk(fmt, chunk)
            yield unpack(packed), part
        return
    # Every chunk goes to the workers, the first included: on two cores a third process
    # converting would only take CPU from them.
    ahead = pool.workers + 1  # bounded: chunks in memory at once
    pending: deque[Future[tuple[list[Packed], ImportReport]]] = deque()
    for chunk in chunks:
        pending.append(pool.executor.submit(convert_chunk, fmt, chunk))
        if len(pending) > ahead:
            packed, part = pending.popleft().result()
            yield unpack(packed), part
    while pending:
        packed, part = pending.popleft().result()
        yield unpack(packed), part


def convert_chunk(fmt: str, lines: list[RawLine]) -> tuple[list[Packed], ImportReport]:
    """Parse and map a chunk of raw lines to documents (packed for the trip back to the
    writer); the report part holds its counts and examples."""
    part = ImportReport(path=Path())
    convert = converter(fmt)
    documents = [doc for raw in lines
                 if (doc := _map(parse_line(raw), convert, part)) is not None]
    part.lines = lines[-1][0] if lines else 0
    return pack(documents), part


def _merge(report: ImportReport, part: ImportReport) -> None:
    report.lines = max(report.lines, part.lines)
    report.mapped.update(part.mapped)
    report.skipped.update(part.skipped)
    report.examples += part.examples[: _EXAMPLES - len(report.examples)]


def _first_record(
    lines: Iterator[RawLine], path: Path, report: ImportReport
) -> tuple[RawLine, Line]:
    """The first line, which must be a JSON object: anything else is not a JSONL file."""
    for raw in lines:
        line = parse_line(raw)
        report.lines = line.number
        if line.record is None:
            raise TrackerError(
                f"{path}: not a JSONL file (line {line.number}: {line.problem}); give an "
                f"Alignment Research Dataset .jsonl file or a corpus .jsonl(.gz) file")
        return raw, line
    raise TrackerError(f"{path}: the file is empty; nothing to import")


def _chain(first: RawLine, rest: Iterator[RawLine]) -> Iterator[RawLine]:
    yield first
    yield from rest


def _map(
    line: Line, convert: Callable[[dict[str, Any]], DocumentCreate], report: ImportReport
) -> DocumentCreate | None:
    if line.record is None:
        report.skipped[line.problem or "unreadable"] += 1
        return None
    try:
        document = convert(line.record)
    except Unmapped as e:
        report.skipped[str(e)] += 1
        return None
    except (ValidationError, ValueError, TypeError) as e:
        report.skipped[f"invalid record ({type(e).__name__})"] += 1
        return None
    report.mapped[f"{document.source} {document.kind}"] += 1
    if len(report.examples) < _EXAMPLES:
        report.examples.append(
            f"line {line.number}: {str(line.record.get('id', ''))[:60]} → "
            f"{document.source}:{document.native_id} ({document.kind})")
    return document


def _flush(
    engine: Engine | None, batch: list[DocumentCreate], report: ImportReport, dry_run: bool,
    on_batch: ImportHook | None, started: float,
) -> None:
    if batch and not dry_run:
        if engine is None:
            raise ConfigError("an import needs a store; pass an engine or use --dry-run")
        with session_scope(engine) as session:
            documents = _rekey_by_url(session, batch)
            report.counts.add(store.upsert_documents(session=session, documents=documents))
    report.seconds = time.perf_counter() - started
    if on_batch is not None:
        on_batch(report)


def _rekey_by_url(session: Any, batch: list[DocumentCreate]) -> list[DocumentCreate]:
    """Documents keyed by URL take the identity of a stored document with the same URL key
    (a feed entry of the same blog post), so the import updates it instead of adding a copy."""
    by_url = {doc.aliases[0]: doc for doc in batch
              if doc.source not in _KEYED_BY_ID and doc.aliases
              and doc.aliases[0].startswith("url:")}
    owners = owners_of_keys(session=session, keys=list(by_url)) if by_url else {}
    if not owners:
        return batch
    result = []
    for doc in batch:
        owner = owners.get(doc.aliases[0]) if doc.aliases else None
        if owner is not None and by_url.get(doc.aliases[0]) is doc:
            source, native_id, kind = owner
            doc = doc.model_copy(update={"source": source, "native_id": native_id, "kind": kind})
        result.append(doc)
    return result
