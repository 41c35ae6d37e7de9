"""Schema migrations and several readers on one store, through the CLI, on SQLite and PostgreSQL.

A store from before Alembic is built by running only the baseline revision (and dropping
`alembic_version`), filled with claims, labels, follows, a digest and reading history, then
opened by the CLI: it must be migrated with nothing lost.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

from tests.index.conftest import T0, doc, put
from tracker import store
from tracker.cli import cli
from tracker.store.engine import make_engine, session_scope
from tracker.store.migrate import (
    HEAD,
    alembic_config,
    current_revision,
    head_revision,
    migrate,
)

BODY = ("Optimising a proxy hard breaks it, says the first paragraph.\n\n"
        "A second paragraph disagrees: careful specification avoids the failure entirely.")


@pytest.fixture
def url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRACKER_DATABASE_URL", database_url)
    return database_url


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def ok_json(*args: str) -> Any:
    code, out, err = run(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --- migrations ------------------------------------------------------------------------------

_OLD_ROWS = [
    "INSERT INTO document (source, native_id, kind, title, af, question, deleted, body_text, "
    "content_hash, extra) VALUES ('lesswrong', 'old1', 'post', 'An old post', false, false, "
    "false, 'Optimising a proxy hard breaks it.', 'h1', '{}')",
    "INSERT INTO claim (text) VALUES ('Optimising a proxy hard breaks it')",
    "INSERT INTO claimlink (claim_id, document_id, quote, start, \"end\", prefix, suffix, "
    "revision, stance, origin, status) VALUES (1, 1, 'Optimising a proxy', 0, 18, '', '', 'h1', "
    "'supports', 'user', 'confirmed')",
    "INSERT INTO claimlink (claim_id, document_id, quote, start, \"end\", prefix, suffix, "
    "revision, stance, origin, status) VALUES (1, 1, 'breaks it', 24, 33, '', '', 'h1', "
    "'supports', 'suggested', 'rejected')",
    "INSERT INTO interest (kind, value) VALUES ('author', 'Paul Christiano')",
    "INSERT INTO interest (kind, value) VALUES ('claim', '1')",
    "INSERT INTO digest (week, item_ids) VALUES ('2026-W01', '[1]')",
    "INSERT INTO reading (document_id, times) VALUES (1, 3)",
]


def _baseline_store(url: str) -> None:
    """A store as the tracker made it before Alembic: the baseline schema, no version table."""
    engine = create_engine(url)
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), "0001_baseline")
        conn.commit()
        conn.execute(text("DROP TABLE alembic_version"))
        for statement in _OLD_ROWS:
            conn.execute(text(statement))
        conn.commit()
    engine.dispose()


def test_a_store_from_before_alembic_is_migrated_by_the_cli_and_loses_nothing(url: str) -> None:
    _baseline_store(url)
    claims = ok_json("claim", "list")["claims"]
    assert [(c["id"], c["text"], c["owner"], c["shared"]) for c in claims] == [
        (1, "Optimising a proxy hard breaks it", "default", False)]
    shown = ok_json("claim", "show", "1")
    assert [(k["status"], k["quote"], k["tagged_by"]) for k in shown["links"]] == [
        ("confirmed", "Optimising a proxy", "default"), ("rejected", "breaks it", "default")]
    follows = ok_json("interests")["explicit"]
    assert {(f["kind"], f["value"]) for f in follows} == {
        ("author", "Paul Christiano"), ("claim", "1")}
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            assert conn.execute(text("SELECT reader, week FROM digest")).all() == [
                ("default", "2026-W01")]
            assert conn.execute(text("SELECT reader, document_id, times FROM reading")).all() == [
                ("default", 1, 3)]
            # The migrated schema is the one the models describe (and a fresh store gets).
            assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        assert migrate(engine) == "current"
    finally:
        engine.dispose()


def test_a_fresh_store_is_created_at_the_head_with_the_default_reader(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision() == HEAD
        assert [r["name"] for r in ok_json("reader", "list")] == ["default"]
    finally:
        engine.dispose()


def set_recorded_revision(url: str, revision: str) -> None:
    """Write `revision` into the store's version row, whatever its schema is."""
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        conn.commit()
    engine.dispose()


def test_a_store_newer_than_this_tracker_is_one_clear_line(url: str) -> None:
    make_engine(url).dispose()
    set_recorded_revision(url, "0099_future")
    code, _, err = run("claim", "list")
    assert code == 1
    assert "revision '0099_future', newer than this tracker knows" in one_line(err)


# --- several readers -------------------------------------------------------------------------


@pytest.fixture
def team(url: str) -> str:
    """alice and bob registered, one post to quote."""
    engine = make_engine(url)
    put(engine, doc("p1", "Proxies and pressure", BODY, author="Ada Lovelace"))
    engine.dispose()
    for name in ("alice", "bob"):
        assert run("reader", "add", name)[0] == 0
    return url


def _labels(url: str, reader: str) -> list[tuple[int, str]]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return [(claim.id or 0, link.tagged_by)
                    for claim, link in store.stance_labels(session=session, reader=reader)]
    finally:
        engine.dispose()


def test_readers_claims_and_labels_stay_apart_until_shared(team: str) -> None:
    assert [r["name"] for r in ok_json("reader", "list")] == ["alice", "bob", "default"]
    alice = ok_json("--user", "alice", "claim", "add", "Optimising a proxy hard breaks it")
    run("--user", "alice", "claim", "tag", str(alice["id"]), "lesswrong:p1",
        "--quote", "Optimising a proxy hard breaks it", "--stance", "supports")
    bob = ok_json("--user", "bob", "claim", "add", "Specification avoids proxy failure")
    run("--user", "bob", "claim", "tag", str(bob["id"]), "lesswrong:p1",
        "--quote", "careful specification avoids the failure entirely", "--stance", "supports")

    assert [c["id"] for c in ok_json("--user", "alice", "claim", "list")["claims"]] == [alice["id"]]
    assert [c["id"] for c in ok_json("--user", "bob", "claim", "list")["claims"]] == [bob["id"]]
    assert ok_json("claim", "list")["claims"] == []  # the default reader sees neither
    code, _, err = run("--user", "bob", "claim", "show", str(alice["id"]))
    assert code == 1 and f"No claim {alice['id']}." in one_line(err)
    code, _, err = run("--user", "bob", "claim", "tag", str(alice["id"]), "lesswrong:p1",
                       "--quote", "Optimising a proxy", "--stance", "opposes")
    assert code == 1
    # Each reader's stance model learns from their own labels only.
    assert _labels(team, "alice") == [(alice["id"], "alice")]
    assert _labels(team, "bob") == [(bob["id"], "bob")]

    assert run("--user", "alice", "claim", "share", str(alice["id"]))[0] == 0
    listed = ok_json("--user", "bob", "claim", "list")["claims"]
    assert [(c["id"], c["owner"], c["shared"]) for c in listed] == [
        (alice["id"], "alice", True), (bob["id"], "bob", False)]
    code, _, err = run("--user", "bob", "claim", "tag", str(alice["id"]), "lesswrong:p1",
                       "--quote", "careful specification avoids the failure entirely",
                       "--stance", "opposes")
    assert code == 0, err
    shown = ok_json("--user", "alice", "claim", "show", str(alice["id"]))
    assert [(k["stance"], k["tagged_by"]) for k in shown["links"]] == [
        ("supports", "alice"), ("opposes", "bob")]
    code, out, _ = run("--user", "alice", "claim", "show", str(alice["id"]))
    assert "shared by alice" in out and "tagged by bob" in out
    # Shared, the claim's labels train both; bob's own claim still trains only bob.
    assert sorted(_labels(team, "bob")) == sorted(
        [(alice["id"], "alice"), (alice["id"], "bob"), (bob["id"], "bob")])
    assert _labels(team, "alice") == [(alice["id"], "alice"), (alice["id"], "bob")]
    code, _, err = run("--user", "bob", "claim", "delete", str(alice["id"]), "--yes")
    assert code == 1 and "only alice can delete it" in one_line(err)


def test_a_readers_digest_holds_only_their_follows(team: str, tmp_path: Path) -> None:
    assert run("--user", "alice", "follow", "author", "Ada Lovelace")[0] == 0
    assert run("--user", "bob", "follow", "search", "specification")[0] == 0
    assert [f["value"] for f in ok_json("--user", "alice", "interests")["explicit"]] == [
        "Ada Lovelace"]
    assert [f["value"] for f in ok_json("--user", "bob", "interests")["explicit"]] == [
        "specification"]
    week = f"{T0.isocalendar().year}-W{T0.isocalendar().week:02d}"
    digests = {}
    for name in ("alice", "bob"):
        code, _, err = run("--user", name, "digest", "--week", week,
                           "--out", str(tmp_path / name))
        assert code == 0, err
        digests[name] = (tmp_path / name / f"{week}.md").read_text(encoding="utf-8")
    assert "Author: Ada Lovelace" in digests["alice"]
    assert "Search: specification" not in digests["alice"]
    assert "Search: specification" in digests["bob"]
    assert "Author: Ada Lovelace" not in digests["bob"]


def test_an_unknown_reader_is_one_line_naming_the_known_ones(team: str) -> None:
    for args, env in ((["--user", "carol"], None), ([], {"TRACKER_USER": "carol"})):
        code, _, err = run(*args, "claim", "list", env=env)
        assert code == 2
        line = one_line(err)
        assert "Unknown reader 'carol'" in line
        assert "known readers: alice, bob, default" in line
        assert "tracker reader add carol" in line
    code, _, err = run("reader", "add", "Not A Name")
    assert code == 1 and "is not a reader name" in one_line(err)


def test_a_failing_upgrade_is_one_clear_line_and_keeps_the_data(url: str) -> None:
    """A schema already past the revision its version row names (0004's changes made, the
    row set back to 0003): the 0004 upgrade fails, and that is one line, not a traceback."""
    make_engine(url).dispose()
    code, _, _ = run("claim", "add", "Optimising a proxy hard breaks it")
    assert code == 0
    set_recorded_revision(url, "0003_reader_tokens")
    code, _, err = run("claim", "list")
    assert code == 1
    line = one_line(err)
    assert "from revision '0003_reader_tokens'" in line and "failed (" in line
    assert "Traceback" not in err
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() \
            == "0003_reader_tokens"
        assert conn.execute(text("SELECT count(*) FROM claim")).scalar_one() == 1
    engine.dispose()
