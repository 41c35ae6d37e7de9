"""`tracker import`: ARD-shaped files built from the real corpus, the corpus files themselves,
and every kind of bad input, through the CLI into a real SQLite store."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func
from sqlmodel import col, select

from tests.conftest import SHARED
from tracker.cli import cli
from tracker.config import load_settings
from tracker.models import Document, Link, Passage
from tracker.store.engine import make_engine, session_scope

SAMPLE = SHARED / "corpus" / "sample" / "posts_sample.jsonl"
FORUMS = ("lesswrong", "alignmentforum", "eaforum")


def tracker(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def sample_posts() -> list[dict[str, Any]]:
    with SAMPLE.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def ard_record(post: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A corpus post in the Alignment Research Dataset's shape."""
    record = {"id": f"ard-{post['id']}", "source": post["forum"], "title": post["title"],
              "text": post.get("body_markdown") or "text of " + post["title"],
              "url": post["url"], "date_published": post["posted_at"],
              "authors": [post["author"]], "summary": []}
    record.update(changes)
    return record


def write_jsonl(path: Path, records: list[Any], extra: bytes = b"") -> Path:
    with path.open("wb") as handle:
        for record in records:
            handle.write(json.dumps(record).encode() + b"\n")
        handle.write(extra)
    return path


def rows(**where: Any) -> list[Document]:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            stmt = select(Document)
            for name, value in where.items():
                stmt = stmt.where(col(getattr(Document, name)) == value)
            return list(session.exec(stmt).all())
    finally:
        engine.dispose()


def count(model: Any, *conditions: Any) -> int:
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            stmt = select(func.count()).select_from(model).where(*conditions)
            return int(session.execute(stmt).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def ard_file(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """Every forum post of the sample as ARD lines, plus one blog post and one arXiv paper."""
    forum = [p for p in sample_posts() if p["forum"] in FORUMS and len(p["id"]) in (17, 24)]
    records = [ard_record(p) for p in forum]
    records.append({"id": "b1", "source": "cold_takes", "title": "Most important century",
                    "text": "The most important century.", "url":
                    "https://www.cold-takes.com/most-important-century/", "date_published":
                    "2021-07-13T00:00:00Z", "authors": ["Holden Karnofsky"], "summary": []})
    records.append({"id": "2206.13353", "source": "arxiv", "title": "Is Power-Seeking AI an "
                    "Existential Risk?", "text": "This report examines…", "url":
                    "https://arxiv.org/abs/2206.13353", "date_published": "2022-06-16T00:00:00Z",
                    "authors": ["Joseph Carlsmith"], "summary": ["A report."]})
    return write_jsonl(tmp_path / "ard.jsonl", records), forum


def test_ard_posts_are_keyed_by_their_site_id_and_keyword_searchable_at_once(
    ard_file: tuple[Path, list[dict[str, Any]]],
) -> None:
    path, forum = ard_file
    code, out, err = tracker("import", str(path))
    assert code == 0, err
    lw = {d.native_id: d for d in rows(source="lesswrong")}
    ea = {d.native_id: d for d in rows(source="eaforum")}
    assert set(lw) == {p["id"] for p in forum if p["forum"] != "eaforum"}
    assert set(ea) == {p["id"] for p in forum if p["forum"] == "eaforum"}
    assert all(d.kind == "post" for d in lw.values())
    assert any(d.af for d in lw.values())
    [paper] = rows(source="arxiv")
    assert paper.native_id == "2206.13353" and paper.kind == "paper"
    [blog] = rows(source="cold_takes")
    assert blog.url == "https://www.cold-takes.com/most-important-century/"
    assert f"imported {len(forum) + 2} documents" in out and "0 skipped" in out
    assert "keyword index:" in out
    # Split right after the commit: every stored document with text has passages.
    assert count(Passage) >= len(forum)
    code, out, _ = tracker("import", str(path))  # a second import adds nothing
    assert code == 0 and f"0 new, 0 updated, {len(forum) + 2} unchanged" in out


def test_bad_lines_are_counted_and_reported_never_dropped_silently(tmp_path: Path) -> None:
    posts = [p for p in sample_posts() if p["forum"] == "lesswrong"][:5]
    records: list[Any] = [ard_record(p) for p in posts]
    records.append(ard_record(posts[0], id="na", url="n/a"))
    records.append(ard_record(posts[1], id="unknown", source="myspace",
                              url="https://myspace.com/x"))
    records.append([1, 2, 3])
    huge = b'{"id": "huge", "text": "' + b"x" * (50 * 2**20) + b'"}\n'
    truncated = b'{"id": "cut", "source": "lesswrong", "title": "Cut off'
    path = write_jsonl(tmp_path / "bad.jsonl", records, extra=huge + truncated)
    code, out, err = tracker("import", str(path), "--no-split")
    assert code == 0, err
    assert "imported 5 documents" in out and "5 skipped" in out
    assert "skipped 1: a forum record whose URL names no post id" in out
    assert "skipped 1: unknown ARD source 'myspace'" in out
    assert "skipped 1: not a JSON object" in out
    assert "skipped 1: line over 16 MiB" in out
    assert "skipped 1: unreadable JSON (truncated or malformed)" in out
    assert len(rows()) == 5


@pytest.mark.parametrize("content", [b"<html><body>not json</body></html>\n", b"a,b,c\n1,2,3\n",
                                     b"\x89PNG\r\n\x1a\n\x00\x00binary"])
def test_a_file_that_is_not_jsonl_is_one_error_line_and_keeps_the_store(
    tmp_path: Path, content: bytes, ard_file: tuple[Path, list[dict[str, Any]]],
) -> None:
    assert tracker("import", str(ard_file[0]), "--no-split")[0] == 0
    before = len(rows())
    bad = tmp_path / "notes.txt"
    bad.write_bytes(content)
    code, out, err = tracker("import", str(bad))
    assert code != 0
    [line] = err.strip().splitlines()
    assert str(bad) in line and "not a JSONL file" in line and "Traceback" not in err
    assert len(rows()) == before


def test_dry_run_shows_the_mapping_and_stores_nothing(
    ard_file: tuple[Path, list[dict[str, Any]]],
) -> None:
    path, forum = ard_file
    code, out, _ = tracker("import", str(path), "--dry-run")
    assert code == 0
    assert f"would import {len(forum) + 2} documents" in out
    assert "→ lesswrong post:" in out and "→ arxiv paper: 1" in out
    assert "e.g. line 1: ard-" in out
    assert rows() == []


def test_corpus_files_import_with_citations_resolved(tmp_path: Path) -> None:
    """The sample's posts cite each other: the links resolve among imported documents."""
    posts = tmp_path / "posts.jsonl.gz"
    with gzip.open(posts, "wb") as handle:
        handle.write(SAMPLE.read_bytes())
    papers = tmp_path / "papers.jsonl"
    with (SHARED / "corpus" / "papers.jsonl").open("rb") as source:
        papers.write_bytes(b"".join(source.readline() for _ in range(200)))
    comments = SHARED / "corpus" / "sample" / "comments_sample.jsonl"
    code, out, err = tracker("import", str(posts), str(papers), str(comments), "--no-split")
    assert code == 0, err
    assert "corpus-posts" in out and "corpus-papers" in out and "corpus-comments" in out
    assert "no real site id (a synthetic id from an archive)" in out  # counted, not dropped
    assert rows(source="arbital", kind="post") and rows(source="arbital", kind="comment")
    assert len(rows(source="arxiv")) > 100
    resolved = count(Link, col(Link.target_document_id).is_not(None))
    assert resolved > 100


def test_worker_processes_convert_the_same_documents_as_one_process(tmp_path: Path) -> None:
    from tracker.sync.importer import import_file

    reports = []
    for workers in (1, 2):
        engine = make_engine(f"sqlite:///{tmp_path / f'w{workers}.db'}")
        reports.append(import_file(engine, SAMPLE, batch_size=60, workers=workers))
        with session_scope(engine) as session:
            keys = sorted(session.execute(select(Document.source, Document.native_id)).all())
        reports[-1].examples.append(str(keys))
        engine.dispose()
    one, two = reports
    assert one.counts == two.counts and one.counts.new > 300
    assert one.mapped == two.mapped and one.skipped == two.skipped and one.lines == two.lines
    assert one.examples == two.examples


def test_an_import_killed_mid_file_keeps_whole_batches_and_a_rerun_completes_it(
    tmp_path: Path,
) -> None:
    """Crash safety of the bulk path (WAL, synchronous=NORMAL, one transaction per batch):
    SIGKILL after the first batches leaves only whole batches, every one with its authors
    and links, an intact database, and the rerun stores each line exactly once."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO
    from tracker.models import DocumentAuthor
    from tracker.store.engine import integrity_problems
    from tracker.sync.importer import BATCH

    # Sample posts under made-up site ids with short bodies: ~5 batches that convert fast.
    forum = [p for p in sample_posts() if p["forum"] in FORUMS and len(p["id"]) in (17, 24)]
    base = list({p["id"]: p for p in forum}.values())  # an AF post is also listed as LW
    records = []
    for n in range(BATCH * 5 // len(base) + 1):
        for post in base:
            site_id, first = f"{post['id'][-12:]}{n:05d}", f"{post['id'][-12:]}00000"
            cited = f"https://www.lesswrong.com/posts/{first}/copy"  # copy 0, in batch 1
            records.append({**post, "id": site_id, "url": post["url"].replace(post["id"], site_id),
                            "body_html": f'<p>Copy {n} of <a href="{cited}">the first</a></p>'})
    path = write_jsonl(tmp_path / "posts.jsonl", records)
    process = subprocess.Popen([sys.executable, "-m", "tracker", "import", str(path), "--no-split"],
                               env={**os.environ}, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and count(Document) < BATCH:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    stored = count(Document)
    assert BATCH <= stored < len(records), "the kill came too late (or never)"
    assert stored % BATCH == 0  # whole batches only
    with_author = [bool(r.get("author")) for r in records]
    assert count(DocumentAuthor) == sum(with_author[:stored]) and count(Link) == stored
    engine = make_engine(load_settings().sqlalchemy_url)
    assert integrity_problems(engine) == []
    engine.dispose()
    code, out, err = tracker("import", str(path), "--no-split")
    assert code == 0, err
    assert f"{len(records) - stored} new, 0 updated, {stored} unchanged" in out
    assert count(Document) == len(records) == len({r["id"] for r in records})
    assert count(DocumentAuthor) == sum(with_author) and count(Link) == len(records)
    # Every copy cites copy 0 of its post (forum ids: eaforum ones stay unresolved, being
    # cited by a lesswrong URL), resolved whichever batch it came in.
    unresolved = sum(1 for r in records if r["forum"] == "eaforum")
    assert count(Link, col(Link.target_document_id).is_(None)) == unresolved


def test_the_bulk_path_writes_the_same_rows_on_each_backend(database_url: str) -> None:
    """Multi-row INSERT … RETURNING (ids matched back by key) and the driver-level executemany
    of authors, aliases and links, on SQLite and PostgreSQL; a second import changes nothing."""
    from tracker.models import DocumentAlias, DocumentAuthor
    from tracker.sync.importer import import_file

    engine = make_engine(database_url)
    try:
        first = import_file(engine, SAMPLE, batch_size=150, workers=1)
        again = import_file(engine, SAMPLE, batch_size=150, workers=1)
        with session_scope(engine) as session:
            def total(model: Any, *where: Any) -> int:
                stmt = select(func.count()).select_from(model).where(*where)
                return int(session.execute(stmt).scalar_one())

            documents = total(Document)
            by_id = dict(session.execute(select(Document.native_id, Document.id)).all())
            owners = dict(session.execute(
                select(DocumentAlias.key, DocumentAlias.document_id)).all())
            authored = {p["id"] for p in sample_posts() if p.get("author")
                        and (p["forum"] not in FORUMS or len(p["id"]) in (17, 24))}
            assert total(DocumentAuthor) == len(authored)
            resolved = total(Link, col(Link.target_document_id).is_not(None))
    finally:
        engine.dispose()
    assert first.counts.new == documents == first.documents > 300
    assert again.counts.new == again.counts.updated == 0
    assert again.counts.unchanged == documents
    # Each forum post's own key points at its own row: ids were matched back correctly.
    for native_id, doc_id in by_id.items():
        key = next((k for k in (f"lw:{native_id}", f"ea:{native_id}") if k in owners), None)
        assert key is None or owners[key] == doc_id
    assert resolved > 100


def test_documents_come_back_from_the_parse_workers_unchanged() -> None:
    """The tuples a worker sends rebuild each document equal to the one it converted: every
    field, authors, links (with their sentences)."""
    from tracker.ingest.dumps import converter, detect_format, open_lines, parse_line
    from tracker.ingest.dumps import read_raw_lines as raw_lines
    from tracker.sync.importwire import pack, unpack

    with open_lines(SAMPLE) as handle:
        lines = [parse_line(raw) for raw in raw_lines(handle)]
    convert = converter(detect_format(lines[0].record or {}, SAMPLE))
    documents = []
    for line in lines:
        try:
            documents.append(convert(line.record or {}))
        except ValueError:  # archive-only ids: counted as skipped by the import
            continue
    assert sum(len(d.links) for d in documents) > 100 and any(d.extra for d in documents)
    back = unpack(pack(documents))
    assert back == documents
    assert [d.model_dump_json() for d in back] == [d.model_dump_json() for d in documents]
    assert all(isinstance(link.context, str) for d in back for link in d.links)


def test_one_pool_of_parse_workers_serves_every_file_of_an_import(tmp_path: Path) -> None:
    """`tracker import a b` parses both files in the same worker processes (started once):
    the stores end up as with one process, file after file."""
    from tracker.sync.importer import import_file, parse_pool

    papers = tmp_path / "papers.jsonl"
    with (SHARED / "corpus" / "papers.jsonl").open("rb") as source:
        papers.write_bytes(b"".join(source.readline() for _ in range(150)))
    stores = []
    for workers in (1, 2):
        engine = make_engine(f"sqlite:///{tmp_path / f'pool{workers}.db'}")
        with parse_pool(workers) as pool:
            assert (pool is None) == (workers == 1)
            reports = [import_file(engine, path, batch_size=40, pool=pool)
                       for path in (SAMPLE, papers)]
        with session_scope(engine) as session:
            keys = sorted(session.execute(select(Document.source, Document.native_id)).all())
            linked = session.execute(select(func.count()).select_from(Link).where(
                col(Link.target_document_id).is_not(None))).scalar_one()
        stores.append(([(r.counts, r.mapped, r.skipped, r.lines) for r in reports], keys, linked))
        engine.dispose()
    one, two = stores
    assert one == two
    (posts, *_), (papers, mapped, *_) = one[0]
    assert posts.new > 300 and papers.new > 100 and mapped["arxiv paper"] > 100 and one[2] > 0


def markdown_only_posts(limit: int) -> list[dict[str, Any]]:
    """Real forum posts the corpus holds only as Markdown (TurnTrout's essays on LW/AF)."""
    found = []
    with gzip.open(SHARED / "corpus" / "posts.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if (row["forum"] in FORUMS and not row.get("body_html")
                    and row.get("body_markdown") and row.get("turntrout_permalink")):
                found.append(row)
                if len(found) == limit:
                    break
    assert len(found) == limit
    return found


def test_a_forum_post_held_only_as_markdown_keeps_its_body(tmp_path: Path) -> None:
    """125 LW/AF posts of the corpus have no HTML, only their Markdown: imported, each has its
    text (rendered, no Markdown syntax left), its links (site-relative ones on the essay site)
    and is found by a word of its body."""
    posts = markdown_only_posts(3)
    code, out, err = tracker("import", str(write_jsonl(tmp_path / "md.jsonl", posts)))
    assert code == 0, err
    for post in posts:
        [doc] = rows(native_id=post["id"])
        assert len(doc.body_text) > 0.5 * len(post["body_markdown"])
        assert "](" not in doc.body_text and "**" not in doc.body_text
    [first] = rows(native_id=posts[0]["id"])
    engine = make_engine(load_settings().sqlalchemy_url)
    with session_scope(engine) as session:
        urls = session.exec(select(Link.url).where(Link.document_id == first.id)).all()
    engine.dispose()
    assert urls
    assert any(u.startswith("https://turntrout.com/") for u in urls), urls
    assert not any(u.startswith("https://www.lesswrong.com/") and "/posts/" not in u
                   for u in urls), urls
    word = max(first.body_text.split()[40:200], key=len).strip(".,;:()“”\"'")
    code, out, err = tracker("search", word, "--limit", "20", "--json")
    assert code == 0, err
    assert posts[0]["title"] in out
