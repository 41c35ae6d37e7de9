"""The tantivy keyword engine through the CLI, on real corpus posts: anchor text of citing
posts finds the target, links resolved later and removed later reach the index at the next
`tracker index`, and a missing or damaged index folder is rebuilt from the store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from tests.index.conftest import HashEmbedder, corpus_slice, put, run_index
from tracker.cli import cli
from tracker.config import load_settings
from tracker.index.tantivyindex import keyword_folder
from tracker.ingest.html import parse_body
from tracker.ingest.links import forum_keys
from tracker.models import DocumentCreate
from tracker.store.engine import make_engine
from tracker.store.evidence import is_generic


def tracker(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def real_posts(shared: Path, n: int) -> list[DocumentCreate]:
    """Corpus posts with the keys the forum source gives them (`lw:<id>`), so links resolve."""
    return [d.model_copy(update={"aliases": forum_keys("lw", d.native_id)})
            for d in corpus_slice(shared, n)]


def citing(native_id: str, target: DocumentCreate, html: str) -> DocumentCreate:
    """A post whose body links to `target` as `html` says (`{url}` is the target's URL)."""
    body = html.replace("{url}", target.url or "")
    parsed = parse_body(body, "https://www.lesswrong.com/")
    return DocumentCreate(source="lesswrong", native_id=native_id, kind="post",
                          title=f"Citing post {native_id}", url=f"https://www.lesswrong.com/"
                          f"posts/{native_id}/x", body_html=body, body_text=parsed.text,
                          links=parsed.links)


def index_store(*docs: DocumentCreate) -> None:
    """Store documents and run an index (hash vectors: `tracker search` is keyword-only)."""
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        put(engine, *docs)
        run_index(engine, HashEmbedder())
    finally:
        engine.dispose()


def keyword_found(query: str) -> list[str]:
    code, out, err = tracker("search", "--json", "--", query)
    assert code == 0, err
    return [r["document"]["native_id"] for r in json.loads(out)["results"]
            if r["matched"]["keyword_rank"] is not None]


ANCHOR = ('<p>As <a href="{url}">Zorblaxian treatise on influence-seeking</a> argues, '
          'the future may go badly.</p><p>The excellent quuxification argument is '
          '<a href="{url}">here</a>.</p>')


def test_anchor_text_and_sentence_find_the_cited_post(shared: Path) -> None:
    target = real_posts(shared, 3)[2]
    index_store(target, citing("c1", target, ANCHOR))
    assert keyword_found("zorblaxian treatise") == ["c1", target.native_id]
    # "here" says nothing, but the sentence around it does.
    assert target.native_id in keyword_found("quuxification")


def test_links_resolved_or_removed_later_reach_the_index(shared: Path) -> None:
    target = real_posts(shared, 4)[3]
    post = citing("c2", target, ANCHOR)
    index_store(post)  # the target is not stored yet: the link is unresolved
    assert keyword_found("zorblaxian") == ["c2"]
    index_store(target)  # stored later: the link resolves, the next index adds the anchors
    assert keyword_found("zorblaxian") == ["c2", target.native_id]
    index_store(post.model_copy(update={"body_html": "<p>Rewritten.</p>",
                                        "body_text": "Rewritten.", "links": []}))
    assert keyword_found("zorblaxian") == []
    code, out, _ = tracker("doctor")
    assert "tantivy" in out and "in step" in out, out


def test_missing_or_damaged_folder_is_rebuilt_with_one_line(shared: Path) -> None:
    posts = real_posts(shared, 2)
    index_store(*posts)
    word = "zorblaxian"
    index_store(citing("c3", posts[0], ANCHOR))
    folder = keyword_folder(Path(load_settings().sqlalchemy_url.removeprefix("sqlite:///")))
    shutil.rmtree(folder)
    code, out, _ = tracker("doctor")
    assert "keyword index" in out and "missing" in out, out
    code, out, err = tracker("doctor", "--repair")
    assert "keyword index (tantivy) rebuilt" in out + err
    assert keyword_found(word) == ["c3", posts[0].native_id]
    for part in folder.iterdir():  # damage every file: search must rebuild, never trace back
        if part.is_file():
            part.write_bytes(b"\x00garbage")
    result = CliRunner().invoke(cli, ["search", "--json", word])
    assert result.exit_code == 0, result.output
    assert "rebuilding it from the store" in result.stderr
    found = [r["document"]["native_id"] for r in json.loads(result.stdout)["results"]]
    assert found == ["c3", posts[0].native_id]
    assert "Traceback" not in result.output


def test_generic_anchors() -> None:
    for anchor in ("here", "This post", "link", "[1]", "https://example.org/x", "  "):
        assert is_generic(anchor), anchor
    assert not is_generic("Paul's post on influence-seeking")


def test_citing_sentence_is_captured_at_ingest() -> None:
    html = ('<p>First one. Then <a href="https://arxiv.org/abs/2101.00001">the '
            'scaling paper</a> shows it! After.</p><ul><li>See <a href="https://arxiv.org/abs/'
            '2101.00002">here</a></li></ul>')
    links = parse_body(html).links
    assert [(link.anchor_text, link.context) for link in links] == [
        ("the scaling paper", "Then the scaling paper shows it!"), ("here", "See here")]
