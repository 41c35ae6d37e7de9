"""Anchors across a real edit: the local ForumMagnum server serves a post, `tracker sync` stores
it, the post is edited on the server, and the next sync moves the anchor or makes it stale."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.claims.conftest import one_line_error, run, run_json
from tests.conftest import SHARED
from tests.servers.forum import ForumData, ForumServer, Site, sample_sites
from tracker import store
from tracker.config import load_settings
from tracker.store.engine import make_engine, session_scope


@pytest.fixture
def eaforum(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForumData]:
    """The EA Forum of the sample corpus on 127.0.0.1, the only source enabled."""
    data = sample_sites(SHARED / "corpus")["eaforum"]
    with ForumServer(sites=[Site.eaforum(data)]) as server:
        monkeypatch.setenv("TRACKER_SOURCES__EAFORUM__ENDPOINT", server.site_url("eaforum"))
        monkeypatch.setenv("TRACKER_SOURCES__EAFORUM__DELAY", "0")
        monkeypatch.setenv("TRACKER_SOURCES__EAFORUM__FIRST_SYNC_DAYS", "20000")
        monkeypatch.setenv("TRACKER_CONTACT", "tests@example.invalid")
        for other in ("LESSWRONG", "ALIGNMENTFORUM", "ARXIV", "FEEDS"):
            monkeypatch.setenv(f"TRACKER_SOURCES__{other}__ENABLED", "false")
        yield data


def body(native_id: str) -> tuple[int, str, str]:
    """(id, body_text, content_hash) of a stored document."""
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            doc = store.get_document(session=session, ref=native_id)
            return doc.id or 0, doc.body_text, doc.content_hash
    finally:
        engine.dispose()


def sync() -> None:
    code, out, err = run("sync", "eaforum")
    assert code == 0, out + err


def test_anchor_survives_an_edit_then_goes_stale(eaforum: ForumData, tmp_path: Path) -> None:
    sync()
    post = min((p for p in eaforum.posts.values() if p.get("htmlBody")),
               key=lambda p: p["postedAt"])  # far outside the refresh window, as a real edit
    html = post["htmlBody"]
    doc_id, text, first_hash = body(post["_id"])
    sentence = max(re.findall(r"[A-Z][^.!?\n]{40,200}[.!?]", text), key=len)
    claim = run_json("claim", "add", "What this post argues")["id"]
    # Typed with different whitespace and quote style: the stored quote is the post's own text.
    typed = " ".join(sentence.replace("'", "’").split()).replace(" ", "  ", 1)
    link = run_json("claim", "tag", str(claim), post["_id"], "--quote", typed,
                    "--stance", "supports")
    assert link["quote"] == sentence and link["revision"] == first_hash
    assert text[link["start"] : link["end"]] == sentence

    time.sleep(0.01)
    eaforum.edit_post(post["_id"], html="<p>An update added on top.</p>" + html)
    sync()
    _, moved_text, moved_hash = body(post["_id"])
    [moved] = run_json("claim", "show", str(claim))["links"]
    shift = len("An update added on top.\n\n")
    assert (moved["status"], moved["start"], moved["end"]) == \
        ("confirmed", link["start"] + shift, link["end"] + shift)
    assert moved["revision"] == moved_hash != first_hash and moved["current"]
    assert moved_text[moved["start"] : moved["end"]] == sentence

    time.sleep(0.01)
    eaforum.edit_post(post["_id"], html="<p>The post now says something else entirely.</p>")
    sync()
    [stale] = run_json("claim", "show", str(claim))["links"]
    assert stale["status"] == "stale" and not stale["current"]
    assert {k: stale[k] for k in ("quote", "start", "end", "revision")} == \
        {k: moved[k] for k in ("quote", "start", "end", "revision")}  # never moved, never deleted
    code, out, _ = run("claim", "show", str(claim))
    assert "Stale: the quote is no longer in the document" in out and sentence[:40] in out
    exported = json.loads(run("export", "claims", "--format", "jsonld")[1])
    [annotation] = exported["first"]["items"]
    assert annotation["target"]["state"]["type"] == "TimeState"
    assert {b["value"] for b in annotation["body"]} >= {"stale"}

    code, _, err = run("claim", "accept", str(stale["id"]))
    assert code == 1 and "is no longer in document" in one_line_error(err)
    again = run_json("claim", "accept", str(stale["id"]), "--quote", "something else entirely")
    assert again["status"] == "confirmed" and again["current"] and doc_id
