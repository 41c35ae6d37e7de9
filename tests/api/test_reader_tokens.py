"""A token per reader: `tracker reader token NAME` issues it (stored hashed), and `tracker api`
acts for that reader on requests that carry it; a wrong or revoked token is refused (401)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tests.api.conftest import Seeded, start_api, stop
from tracker.cli import cli
from tracker.config import load_settings
from tracker.store.engine import make_engine


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_readers_token_acts_for_that_reader(seeded: Seeded, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    running = start_api(seeded, tmp_path, TRACKER_API__WRITES="true")
    url = running.url
    try:
        monkeypatch.setenv("TRACKER_HOME", str(running.home))
        for name in ("alice", "bob"):
            assert _cli("reader", "add", name)[0] == 0
        code, out, err = _cli("reader", "token", "alice")
        assert code == 0, err
        token = out.strip()
        assert len(token) >= 40 and "shown only now" in err
        code, out, _ = _cli("--user", "alice", "claim", "add", "Specification beats proxies",
                            "--json")
        alices = json.loads(out)["id"]
        alice = {"Authorization": f"Bearer {token}"}

        mine = httpx.get(f"{url}/v1/claims", headers=alice).json()["claims"]
        assert [c["id"] for c in mine] == [alices]
        open_ = httpx.get(f"{url}/v1/claims").json()["claims"]  # no token: the server's reader
        assert [c["id"] for c in open_] == [seeded.claim_id]
        tag = {"ref": str(seeded.post_id), "quote": seeded.quote, "stance": "supports"}
        tagged = httpx.post(f"{url}/v1/claims/{alices}/tags", headers=alice, json=tag)
        assert tagged.status_code == 200, tagged.text
        shown = httpx.get(f"{url}/v1/claims/{alices}", headers=alice).json()
        assert [k["tagged_by"] for k in shown["links"]] == ["alice"]
        # alice cannot see the default reader's claim; writes without a token stay off.
        assert httpx.post(f"{url}/v1/claims/{seeded.claim_id}/tags", headers=alice,
                          json=tag).status_code == 404
        refused = httpx.post(f"{url}/v1/claims/{alices}/tags", json=tag)
        assert refused.status_code == 403 and "tracker reader token" in refused.json()["error"]

        wrong = httpx.get(f"{url}/v1/claims", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "tracker reader token" in wrong.json()["error"]
        code, out, _ = _cli("reader", "token", "alice", "--revoke")
        assert code == 0 and "revoked" in out
        assert httpx.get(f"{url}/v1/claims", headers=alice).status_code == 401
    finally:
        err = stop(running)
    assert token not in err
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with engine.connect() as conn:
            stored = dict(conn.execute(text("SELECT name, token_hash FROM reader")).all())
    finally:
        engine.dispose()
    assert stored["alice"] is None  # revoked
    assert stored["bob"] is None


def test_a_token_is_stored_only_as_its_hash_and_a_new_one_replaces_it() -> None:
    assert _cli("reader", "add", "carol")[0] == 0
    first = _cli("reader", "token", "carol")[1].strip()
    second = _cli("reader", "token", "carol")[1].strip()
    assert first != second
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        with engine.connect() as conn:
            [stored] = conn.execute(text(
                "SELECT token_hash FROM reader WHERE name = 'carol'")).scalars().all()
    finally:
        engine.dispose()
    assert stored == hashlib.sha256(second.encode()).hexdigest()


def test_a_token_for_an_unknown_reader_is_one_line() -> None:
    code, _, err = _cli("reader", "token", "dave")
    assert code == 2
    [line] = err.strip().splitlines()
    assert "Unknown reader 'dave'" in line and "tracker reader add dave" in line
