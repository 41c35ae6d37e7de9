"""No raw control character reaches a terminal from any command, even from rows stored before
ingest cleaned them (an old store): titles, URLs, author names, anchor text, error messages,
in text and in `--json`."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from tracker import store
from tracker.cli import cli
from tracker.config import load_settings
from tracker.models import AuthorCreate, DocumentCreate, LinkCreate
from tracker.store.documents import UpsertCounts
from tracker.store.engine import make_engine, session_scope

ESC = "\x1b"
HOSTILE = [
    "\x1b[2J\x1b[H",                  # clear the screen
    "\x1b]8;;https://evil.example\x07",  # OSC 8 hyperlink
    "\x1b]0;owned\x07",               # window title
    "\x9b31m",                        # 8-bit CSI
    "\x90q\x9c",                      # 8-bit DCS
    "\u202e",                         # right-to-left override
    "\x07\x08\x7f",                   # bell, backspace, DEL
]
# Anything a terminal would act on: C0 but newline and tab, DEL, C1, bidi overrides.
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def hostile(word: str) -> str:
    return word + "".join(HOSTILE) + " end"


@pytest.fixture
def old_store() -> Engine:
    """Rows written as an old version stored them: nothing cleaned."""
    engine = make_engine(load_settings().sqlalchemy_url)
    posted = datetime(2024, 5, 1, tzinfo=UTC)
    target = DocumentCreate(
        source="lesswrong", native_id="T" * 17, kind="post", title=hostile("Goodhart target"),
        url="https://www.lesswrong.com/posts/" + "T" * 17 + hostile("/x"), posted_at=posted,
        body_text="Goodhart's law says a measure that becomes a target stops measuring. "
                  + hostile("body"),
        authors=[AuthorCreate(name=hostile("Mallory"), slug="mallory")])
    citing = DocumentCreate(
        source="lesswrong", native_id="C" * 17, kind="post", title=hostile("Citing post"),
        url="javascript:alert(1)" + "\x9b31m", posted_at=posted, link_url=hostile("https://x/"),
        body_text="As the Goodhart target post argues, proxies break under pressure.",
        authors=[AuthorCreate(name=hostile("Eve"), slug="eve")],
        links=[LinkCreate(url="https://www.lesswrong.com/posts/" + "T" * 17,
                          target_key="lw:" + "T" * 17, kind="post",
                          anchor_text=hostile("the Goodhart post"))])
    with session_scope(engine) as session:
        store.upsert_documents(session=session, documents=[target, citing])
        run = store.start_run(session=session, source="lesswrong")
        store.finish_run(session=session, run_id=run.id or 0, status="failed",
                         counts=UpsertCounts(), error=hostile("server said"))
    return engine


def output(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.stdout + result.stderr


def test_no_command_prints_a_raw_control_character(old_store: Engine) -> None:
    output("index", "--limit", "0")  # split into passages: keyword search works
    tag = output("claim", "add", "Goodhart", "breaks", "proxies")
    assert "claim 1" in tag
    output("claim", "tag", "1", "T" * 17, "--stance", "supports", "--quote",
           "a measure that becomes a target stops measuring")
    runs = {
        "status": output("status"),
        "status --json": output("status", "--json"),
        "show": output("show", "T" * 17),
        "show citing": output("show", "C" * 17),
        "show --json": output("show", "C" * 17, "--json"),
        "links": output("links", "C" * 17),
        "links --cited-by --json": output("links", "T" * 17, "--cited-by", "--json"),
        "search": output("search", "Goodhart", "target"),
        "search --json": output("search", "Goodhart", "target", "--json"),
        "claim list": output("claim", "list"),
        "claim show": output("claim", "show", "1"),
        "claim show --json": output("claim", "show", "1", "--json"),
    }
    for name, text in runs.items():
        assert not RAW.search(text), f"{name} printed {RAW.findall(text)!r}"
    # The hostile rows were found and shown, not skipped.
    assert "Goodhart target" in runs["search"] and "Mallory" in runs["show"]
    assert "server said" in runs["status"]
    assert "the Goodhart post" in runs["links"]
    # JSON stays valid and keeps what can be kept (C1 escaped, not lost, for a script).
    data = json.loads(runs["show --json"])
    assert data["title"].startswith("Citing post")
    assert json.loads(runs["status --json"])["sources"][0]["last_error"]["error"]
