"""`tracker mcp` acts for a reader: `--user` / TRACKER_USER over stdio, a reader's token over
`--http`. Claims listed, arguments found and `tag_passage` writes are that reader's, through
the SDK's real clients."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.api.conftest import TRACKER, Seeded, free_port, server_env
from tests.api.test_transports import _ended, _wait_for
from tracker.cli import cli


@pytest.fixture(scope="module")
def team(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A copy of the seeded store with alice and bob, each with one claim."""
    home = tmp_path_factory.mktemp("mcp-team") / "home"
    shutil.copytree(seeded.home, home)
    env = {"TRACKER_HOME": str(home)}
    claims = {}
    for name, text in (("alice", "Proxies break under pressure"),
                       ("bob", "Careful specification avoids proxy failure")):
        assert _cli(env, "reader", "add", name)[0] == 0
        code, out = _cli(env, "--user", name, "claim", "add", text, "--json")
        assert code == 0, out
        claims[name] = json.loads(out)["id"]
    return {"home": home, "env": env, "claims": claims}


def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout + result.stderr


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content  # type: ignore[no-any-return]


async def _over_stdio(home: Path, args: list[str], calls: list[tuple[str, dict[str, Any]]],
                      **env: str) -> list[Any]:
    params = StdioServerParameters(command=TRACKER, args=[*args, "mcp"],
                                   env=server_env(home, **env))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        return [await client.call_tool(name, arguments) for name, arguments in calls]


def test_each_reader_sees_only_their_claims_over_stdio(team: dict[str, Any],
                                                       seeded: Seeded) -> None:
    home, claims = team["home"], team["claims"]
    listing = [("list_claims", {})]
    [alice] = anyio.run(_over_stdio, home, ["--user", "alice"], listing)
    [bob] = anyio.run(lambda: _over_stdio(home, [], listing, TRACKER_USER="bob"))
    [default] = anyio.run(_over_stdio, home, [], listing)
    assert [c["id"] for c in _structured(alice)["claims"]] == [claims["alice"]]
    assert [c["id"] for c in _structured(bob)["claims"]] == [claims["bob"]]
    assert [c["id"] for c in _structured(default)["claims"]] == [seeded.claim_id]
    [other] = anyio.run(_over_stdio, home, ["--user", "alice"],
                        [("find_arguments", {"claim_id": claims["bob"]})])
    assert other.is_error and f"No claim {claims['bob']}" in other.content[0].text


def test_a_tag_written_over_mcp_is_its_readers_until_shared(team: dict[str, Any],
                                                            seeded: Seeded) -> None:
    home, env, claims = team["home"], team["env"], team["claims"]
    tag = {"claim_id": claims["bob"], "ref": str(seeded.post_id), "quote": seeded.quote,
           "stance": "opposes"}
    [tagged, arguments] = anyio.run(lambda: _over_stdio(
        home, ["--user", "bob"], [("tag_passage", tag),
                                  ("find_arguments", {"claim_id": claims["bob"]})],
        TRACKER_API__WRITES="true"))
    assert _structured(tagged)["stance"] == "opposes"
    assert [a["quote"] for a in _structured(arguments)["opposing"]
            if a["origin"] == "confirmed"] == [seeded.quote]
    code, out = _cli(env, "--user", "bob", "claim", "show", str(claims["bob"]), "--json")
    assert code == 0, out
    assert [k["tagged_by"] for k in json.loads(out)["links"]] == ["bob"]
    # alice cannot tag or read bob's claim over MCP until bob shares it.
    [refused] = anyio.run(lambda: _over_stdio(
        home, ["--user", "alice"], [("tag_passage", {**tag, "stance": "supports"})],
        TRACKER_API__WRITES="true"))
    assert refused.is_error and f"No claim {claims['bob']}" in refused.content[0].text
    assert _cli(env, "--user", "bob", "claim", "share", str(claims["bob"]))[0] == 0
    [listed] = anyio.run(_over_stdio, home, ["--user", "alice"], [("list_claims", {})])
    assert sorted(c["id"] for c in _structured(listed)["claims"]) == sorted(claims.values())
    code, out = _cli(env, "--user", "alice", "claim", "show", str(claims["bob"]), "--json")
    assert [(k["stance"], k["tagged_by"]) for k in json.loads(out)["links"]] == [
        ("opposes", "bob")]


def test_an_unknown_reader_is_one_line_naming_the_known_ones(team: dict[str, Any]) -> None:
    for args, extra in ((["--user", "carol"], {}), ([], {"TRACKER_USER": "carol"})):
        done = subprocess.run([TRACKER, *args, "mcp"], env=server_env(team["home"], **extra),
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert done.returncode == 2
        [line] = done.stderr.strip().splitlines()
        assert "Unknown reader 'carol'" in line and "known readers: alice, bob, default" in line


def test_over_http_a_readers_token_acts_for_that_reader(team: dict[str, Any],
                                                        tmp_path: Path) -> None:
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    home = tmp_path / "home"
    shutil.copytree(team["home"], home)
    env = {"TRACKER_HOME": str(home)}
    tokens = {name: _cli(env, "reader", "token", name)[1].splitlines()[0].strip()
              for name in ("alice", "bob")}
    port = free_port()
    process = subprocess.Popen([TRACKER, "mcp", "--http", "--port", str(port)],
                               env=server_env(home), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/mcp"

    async def claims_of(token: str | None) -> list[int]:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        async with create_mcp_http_client(headers=headers) as http, \
                streamable_http_client(url, http_client=http) as (read, write, *_), \
                ClientSession(read, write) as client:
            await client.initialize()
            found = _structured(await client.call_tool("list_claims", {}))
            return [c["id"] for c in found["claims"]]

    try:
        _wait_for(url, process, "tracker mcp --http")
        seen = {name: anyio.run(claims_of, tokens[name]) for name in ("alice", "bob")}
        server = anyio.run(claims_of, None)
        on_alices_session = _raw_session_call(url, tokens["alice"], tokens["bob"])
    finally:
        err = _ended(process)
    assert "Traceback" not in err, err
    claims = team["claims"]
    for name in ("alice", "bob"):
        code, out = _cli(env, "--user", name, "claim", "list", "--json")
        assert seen[name] == [c["id"] for c in json.loads(out)["claims"]]
    assert claims["alice"] in seen["alice"] and claims["alice"] not in seen["bob"]
    assert claims["bob"] in seen["bob"]
    assert claims["alice"] not in server  # no token: the server's reader, `default`
    # Each request acts for its own token, even on a session another token opened.
    assert on_alices_session == seen["bob"]


def _raw_session_call(url: str, opener: str, caller: str) -> list[int]:
    """Open a session with `opener`'s token, then call `list_claims` on it with `caller`'s."""
    import httpx

    def post(token: str, message: dict[str, Any], session: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2025-06-18",
                   "Accept": "application/json, text/event-stream"}
        if session:
            headers["Mcp-Session-Id"] = session
        return httpx.post(url, json=message, headers=headers, timeout=60)

    init = post(opener, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}})
    session = init.headers["mcp-session-id"]
    post(opener, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    answer = post(caller, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "list_claims", "arguments": {}}}, session)
    data = next(json.loads(line[5:]) for line in answer.text.splitlines()
                if line.startswith("data:") and line[5:].strip())
    return [c["id"] for c in data["result"]["structuredContent"]["claims"]]
