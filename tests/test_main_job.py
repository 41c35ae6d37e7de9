"""The README's main command, end to end, and the sync progress on a real terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import REPO, SHARED
from tests.servers.forum import ForumServer, Site, sample_sites


@pytest.fixture
def forum_env() -> Iterator[dict[str, str]]:
    sites = sample_sites(SHARED / "corpus")
    with ForumServer(sites=[Site.lesswrong(sites["lesswrong"]),
                            Site.eaforum(sites["eaforum"])]) as server:
        env = {**os.environ}
        for name, site in (("LESSWRONG", "lesswrong"), ("ALIGNMENTFORUM", "lesswrong"),
                           ("EAFORUM", "eaforum")):
            env[f"TRACKER_SOURCES__{name}__ENDPOINT"] = server.site_url(site)
            env[f"TRACKER_SOURCES__{name}__DELAY"] = "0"
            env[f"TRACKER_SOURCES__{name}__FIRST_SYNC_DAYS"] = "20000"
        env["TRACKER_SOURCES__ARXIV__ENABLED"] = "false"
        env["TRACKER_SOURCES__FEEDS__ENABLED"] = "false"
        yield env


def test_scripts_start_syncs_then_shows_status(forum_env: dict[str, str]) -> None:
    result = subprocess.run([str(REPO / "scripts" / "start")], env=forum_env, cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    for source in ("lesswrong", "alignmentforum", "eaforum"):
        assert f"{source}: ok · " in result.stdout
    assert "documents" in result.stdout and "last success" in result.stdout


def test_sync_shows_a_progress_line_on_a_terminal(forum_env: dict[str, str]) -> None:
    tracker = str(REPO / ".venv" / "bin" / "tracker")
    pid, fd = pty.fork()
    if pid == 0:  # the child: a real terminal on stdout and stderr
        os.execve(tracker, [tracker, "sync", "eaforum"], forum_env)
    output = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    text = output.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "eaforum: at " in text and " new, " in text  # the live progress line
    assert "eaforum: ok · " in text  # the summary
