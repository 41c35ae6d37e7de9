"""A reader's own tags on documents, through the CLI, on SQLite and PostgreSQL: two readers'
tags stay apart wherever tags are listed, shown, searched or followed; the forum's tags are
everyone's; a store at revision 0003 (tags shared) is migrated with every tag kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

from tests.index.conftest import T0, HashEmbedder, doc, put
from tests.store.test_readers import BODY, ok_json, one_line, run
from tracker.config import load_settings
from tracker.search.indexing import index_documents
from tracker.store.engine import make_engine
from tracker.store.migrate import alembic_config, current_revision, head_revision


@pytest.fixture
def url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRACKER_DATABASE_URL", database_url)
    return database_url


def _tags(*user: str, ref: str = "lesswrong:p1") -> list[str]:
    return ok_json(*user, "show", ref)["tags"]  # type: ignore[no-any-return]


def _found(user: tuple[str, ...], tag: str) -> list[str]:
    data = ok_json(*user, "search", "proxy", "--tag", tag)
    return [r["document"]["native_id"] for r in data["results"]]


def test_two_readers_tags_stay_apart(url: str) -> None:
    engine = make_engine(url)
    put(engine, doc("p1", "Proxies and pressure", BODY, tags=["Goodhart"]),
        doc("p2", "Proxy gaming in practice", BODY.replace("first", "one"), tags=["Goodhart"]))
    index_documents(engine, load_settings(), embedder=HashEmbedder())
    engine.dispose()
    for name in ("alice", "bob"):
        assert run("reader", "add", name)[0] == 0
    alice, bob = ("--user", "alice"), ("--user", "bob")

    added = ok_json(*alice, "tag", "add", "lesswrong:p1", "mine", "to-read")
    assert added["added"] == ["mine", "to-read"]
    assert added["tags"] == ["Goodhart", "mine", "to-read"]
    assert ok_json(*alice, "tag", "add", "lesswrong:p1", "mine")["added"] == []
    assert ok_json(*bob, "tag", "add", "lesswrong:p2", "mine")["added"] == ["mine"]

    assert _tags(*alice) == ["Goodhart", "mine", "to-read"]
    assert _tags(*bob) == ["Goodhart"]  # alice's tags are hers
    assert _tags() == ["Goodhart"]
    assert _tags(*bob, ref="lesswrong:p2") == ["Goodhart", "mine"]
    assert ok_json(*alice, "tag", "list") == [{"name": "mine", "documents": 1},
                                             {"name": "to-read", "documents": 1}]
    assert ok_json(*bob, "tag", "list") == [{"name": "mine", "documents": 1}]
    assert ok_json("tag", "list") == []
    # A tag filter matches the forum's tags and the reader's own.
    assert _found(alice, "mine") == ["p1"]
    assert _found(bob, "mine") == ["p2"]
    assert _found((), "mine") == []
    assert sorted(_found(bob, "goodhart")) == ["p1", "p2"]
    # Removing is one's own: bob cannot take alice's tag off, nor the forum's.
    removed = ok_json(*bob, "tag", "remove", "lesswrong:p1", "mine", "Goodhart")
    assert removed["removed"] == []
    assert _tags(*alice) == ["Goodhart", "mine", "to-read"]
    assert ok_json(*alice, "tag", "remove", "lesswrong:p1", "mine")["removed"] == ["mine"]
    assert _tags(*alice) == ["Goodhart", "to-read"]
    assert _tags(*bob, ref="lesswrong:p2") == ["Goodhart", "mine"]


def test_a_followed_tag_and_the_digest_use_the_readers_own_tags(url: str, tmp_path: Path) -> None:
    engine = make_engine(url)
    put(engine, doc("p1", "Proxies and pressure", BODY))
    engine.dispose()
    for name in ("alice", "bob"):
        assert run("reader", "add", name)[0] == 0
        assert run("--user", name, "follow", "tag", "mine")[0] == 0
    assert run("--user", "alice", "tag", "add", "lesswrong:p1", "mine")[0] == 0
    week = f"{T0.isocalendar().year}-W{T0.isocalendar().week:02d}"
    digests = {}
    for name in ("alice", "bob"):
        code, _, err = run("--user", name, "digest", "--week", week,
                           "--out", str(tmp_path / name))
        assert code == 0, err
        digests[name] = (tmp_path / name / f"{week}.md").read_text(encoding="utf-8")
    assert "Proxies and pressure" in digests["alice"]
    assert "Proxies and pressure" not in digests["bob"]


def test_bad_tag_input_is_one_line(url: str) -> None:
    engine = make_engine(url)
    put(engine, doc("p1", "Proxies and pressure", BODY))
    engine.dispose()
    code, _, err = run("tag", "add", "lesswrong:p1", "   ")
    assert code == 1 and "is not a tag name" in one_line(err)
    code, _, err = run("tag", "add", "no-such-doc", "mine")
    assert code == 1 and "no-such-doc" in one_line(err)
    code, _, err = run("--user", "carol", "tag", "list")
    assert code == 2 and "Unknown reader 'carol'" in one_line(err)


_AT_0003 = [
    "INSERT INTO document (source, native_id, kind, title, af, question, deleted, body_text, "
    "content_hash, extra) VALUES ('lesswrong', 'old1', 'post', 'An old post', false, false, "
    "false, 'Optimising a proxy hard breaks it.', 'h1', '{}')",
    "INSERT INTO tag (id, name, kind) VALUES (1, 'AI Risk', 'forum')",
    "INSERT INTO tag (id, name, kind) VALUES (2, 'to-read', 'user')",
    "INSERT INTO documenttag (document_id, tag_id) VALUES (1, 1)",
    "INSERT INTO documenttag (document_id, tag_id) VALUES (1, 2)",
]


def test_a_store_at_0003_keeps_every_tag(url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), "0003_reader_tokens")
        conn.commit()
        for statement in _AT_0003:
            conn.execute(text(statement))
        conn.commit()
    engine.dispose()
    assert _tags(ref="lesswrong:old1") == ["AI Risk", "to-read"]  # the CLI migrates it
    assert ok_json("tag", "list") == [{"name": "to-read", "documents": 1}]
    assert run("reader", "add", "alice")[0] == 0
    assert _tags("--user", "alice", ref="lesswrong:old1") == ["AI Risk"]
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision() == "0004_reader_tags"
            assert sorted(conn.execute(text("SELECT name, kind, reader FROM tag")).all()) == [
                ("AI Risk", "forum", None), ("to-read", "user", "default")]
            assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    finally:
        engine.dispose()
