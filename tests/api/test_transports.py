"""The other ways in: MCP over streamable HTTP through the SDK's client, the API started by
`tracker serve` when `[api] enabled`, and CORS only when configured."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.api.conftest import TRACKER, Seeded, free_port, server_env, start_api, stop


def _wait_for(url: str, process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited: {process.communicate()[1]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"{what} did not answer within 120 s")


def _ended(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    return err


def test_mcp_over_streamable_http(seeded: Seeded, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(seeded.home, home)
    port = free_port()
    process = subprocess.Popen([TRACKER, "mcp", "--http", "--port", str(port)],
                               env=server_env(home), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        _wait_for(url, process, "tracker mcp --http")

        async def session() -> dict[str, Any]:
            async with streamable_http_client(url) as (read, write, *_), \
                    ClientSession(read, write) as client:
                await client.initialize()
                tools = {t.name for t in (await client.list_tools()).tools}
                assert {"search", "read", "citations", "find_arguments"} <= tools
                found = await client.call_tool("search", {"query": seeded.post_title})
                assert not found.is_error
                return dict(found.structured_content or {})

        results = anyio.run(session)
        assert any(r["cite"]["document_id"] == seeded.post_id for r in results["results"])
    finally:
        err = _ended(process)
    assert "Traceback" not in err, err


def test_serve_starts_the_api_when_enabled(seeded: Seeded, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(seeded.home, home)
    port = free_port()
    env = server_env(home, TRACKER_API__ENABLED="true", TRACKER_API__PORT=str(port),
                     TRACKER_SCHEDULE__INDEX="false")
    for source in ("LESSWRONG", "ALIGNMENTFORUM", "EAFORUM", "ARXIV", "FEEDS"):
        env[f"TRACKER_SOURCES__{source}__ENABLED"] = "false"
    process = subprocess.Popen([TRACKER, "serve"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/v1/health", process, "tracker serve")
        hits = httpx.get(f"http://127.0.0.1:{port}/v1/search",
                         params={"q": seeded.post_title}).json()["results"]
        assert any(h["document"]["id"] == seeded.post_id for h in hits)
    finally:
        err = _ended(process)
    assert process.returncode == 0, err
    assert "Traceback" not in err, err


@pytest.mark.parametrize("origins", ["", '["https://notes.example.org"]'])
def test_cors_only_when_configured(seeded: Seeded, tmp_path: Path, origins: str) -> None:
    extra = {"TRACKER_API__CORS_ORIGINS": origins} if origins else {}
    running = start_api(seeded, tmp_path, **extra)
    try:
        answer = httpx.get(f"{running.url}/v1/claims",
                           headers={"Origin": "https://notes.example.org"})
        allowed = answer.headers.get("access-control-allow-origin")
        assert allowed == ("https://notes.example.org" if origins else None)
        other = httpx.get(f"{running.url}/v1/claims", headers={"Origin": "https://evil.example"})
        assert other.headers.get("access-control-allow-origin") is None
    finally:
        stop(running)
