"""`tracker mcp` over stdio through the SDK's client, and malformed calls."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.api.conftest import TRACKER, Seeded, server_env


@pytest.fixture(scope="module")
def home(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("mcp") / "home"
    shutil.copytree(seeded.home, target)
    return target


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content  # type: ignore[no-any-return]


def test_an_assistant_session(home: Path, seeded: Seeded) -> None:
    """List tools, search a known post, read it, follow its citations, find arguments."""

    async def session() -> None:
        params = StdioServerParameters(command=TRACKER, args=["mcp"], env=server_env(home))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == {"search", "read", "citations", "list_claims",
                                  "find_arguments", "argued_before"}  # tag_passage: writes off
            assert all(len(t.description or "") > 80 for t in tools.values())
            found = _structured(await client.call_tool("search", {"query": seeded.post_title}))
            hit = next(r for r in found["results"] if r["cite"]["document_id"] == seeded.post_id)
            assert hit["cite"]["title"] == seeded.post_title and hit["cite"]["url"]
            doc = _structured(await client.call_tool("read", {"ref": str(seeded.post_id)}))
            assert doc["cite"]["title"] == seeded.post_title and doc["cite"]["date"]
            assert seeded.quote.split()[0] in doc["text"] and doc["passages"]
            window = _structured(await client.call_tool(
                "read", {"passage_id": doc["passages"][0]["id"], "around": 1}))
            assert window["cite"]["document_id"] == seeded.post_id
            cites = _structured(await client.call_tool("citations", {"ref": str(seeded.post_id)}))
            assert any(link["document"] for link in cites["links"])
            claims = _structured(await client.call_tool("list_claims", {}))
            assert [c["id"] for c in claims["claims"]] == [seeded.claim_id]
            args = _structured(await client.call_tool("find_arguments",
                                                      {"claim_id": seeded.claim_id}))
            assert args["supporting"][0]["quote"] == seeded.quote
            assert args["supporting"][0]["cite"]["url"]
            argued = _structured(await client.call_tool("argued_before",
                                                        {"text": seeded.quote}))
            assert set(argued) == {"earliest", "strongest"}
            assert all(p["cite"]["title"] and p["quote"] for p in argued["earliest"])
            bad = await client.call_tool("find_arguments", {"claim_id": "not a number"})
            assert bad.is_error
            missing = await client.call_tool("read", {"ref": "no-such-document-xyz"})
            assert missing.is_error and "No document" in missing.content[0].text  # type: ignore[union-attr]
            unknown = await client.call_tool("drop_tables", {})
            assert unknown.is_error
            still = _structured(await client.call_tool("list_claims", {}))
            assert still["claims"]

    anyio.run(session)


def test_tag_passage_only_with_writes(home: Path, seeded: Seeded) -> None:
    async def session() -> set[str]:
        env = server_env(home, TRACKER_API__WRITES="true", TRACKER_API__TOKEN="t0ken")
        params = StdioServerParameters(command=TRACKER, args=["mcp"], env=env)
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            names = {t.name for t in (await client.list_tools()).tools}
            tagged = _structured(await client.call_tool("tag_passage", {
                "claim_id": seeded.claim_id, "ref": str(seeded.post_id),
                "quote": seeded.quote, "stance": "mentions"}))
            assert tagged["stance"] == "mentions" and tagged["cite"]["document_id"]
            return names

    assert "tag_passage" in anyio.run(session)


def test_malformed_json_rpc_gets_a_protocol_error(home: Path) -> None:
    """Garbage, an unknown method and bad params: JSON-RPC errors, and the server keeps on."""
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}}
    messages = [init, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {"jsonrpc": "2.0", "id": 2, "method": "no/such/method"},
                {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                 "params": {"name": "search", "arguments": {"limit": "x"}}},
                {"jsonrpc": "2.0", "id": 4, "method": "tools/list"}]
    lines = "this is not json\n" + "".join(json.dumps(m) + "\n" for m in messages)
    process = subprocess.Popen([TRACKER, "mcp"], env=server_env(home), text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(lines)
    process.stdin.flush()  # stdin stays open until every answer is in: EOF ends the session
    answers: dict[Any, Any] = {}
    while not {1, 2, 3, 4} <= set(answers):
        line = process.stdout.readline()
        assert line, "the server closed stdout before answering"
        answer = json.loads(line)
        answers[answer.get("id")] = answer
    process.stdin.close()
    process.wait(timeout=60)
    err = process.stderr.read() if process.stderr else ""
    for pipe in (process.stdout, process.stderr):  # unclosed pipes warn, and warnings fail
        if pipe is not None:
            pipe.close()
    assert "result" in answers[1]
    assert answers[2]["error"]["code"] == -32601
    assert "error" in answers[3] or answers[3]["result"]["isError"]
    assert len(answers[4]["result"]["tools"]) == 6
    assert process.returncode == 0 and "Traceback" not in err, err
