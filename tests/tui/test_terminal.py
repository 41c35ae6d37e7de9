"""The README's main command in a real terminal: `scripts/start` syncs, then the installed
`tracker tui` opens under tmux; type a query, open a result, quit, and read the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED
from tests.servers.forum import ForumServer, Site, sample_sites


class Tmux:
    """One tmux server and session of a fixed size, on its own socket."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.socket = env, f"tracker-test-{uuid.uuid4().hex[:8]}"

    def _run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              env=self.env, capture_output=True, text=True, check=True,
                              timeout=30).stdout

    def start(self, command: str, size: tuple[int, int] = (120, 36)) -> None:
        self._run("new-session", "-d", "-s", "main", "-x", str(size[0]), "-y", str(size[1]),
                  command)

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", "main")

    def type(self, text: str) -> None:
        for char in text:  # one key at a time, as a person types
            self._run("send-keys", "-t", "main", "-l", char)
            time.sleep(0.03)

    def keys(self, *keys: str) -> None:
        self._run("send-keys", "-t", "main", *keys)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        return self.wait_until(lambda screen: text in screen, repr(text), timeout)

    def wait_until(self, done: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if done(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} never appeared; the screen was:\n{screen}")
            time.sleep(0.2)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env,
                       capture_output=True, timeout=30)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[tuple[Tmux, Path]]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: scripts/test installs it (apt-get install tmux)")
    sites = sample_sites(SHARED / "corpus")
    with ForumServer(sites=[Site.lesswrong(sites["lesswrong"]),
                            Site.eaforum(sites["eaforum"])]) as server:
        env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
        for name, site in (("LESSWRONG", "lesswrong"), ("EAFORUM", "eaforum")):
            env[f"TRACKER_SOURCES__{name}__ENDPOINT"] = server.site_url(site)
            env[f"TRACKER_SOURCES__{name}__DELAY"] = "0"
            env[f"TRACKER_SOURCES__{name}__FIRST_SYNC_DAYS"] = "20000"
        for other in ("ALIGNMENTFORUM", "ARXIV", "FEEDS"):
            env[f"TRACKER_SOURCES__{other}__ENABLED"] = "false"
        tmux = Tmux(env)
        try:
            yield tmux, tmp_path
        finally:
            tmux.close()


def test_start_syncs_then_the_tui_searches_opens_and_quits(terminal: tuple[Tmux, Path]) -> None:
    tmux, tmp = terminal
    done = tmp / "exit-status"
    tmux.start(f"cd {REPO} && scripts/start; echo $? > {done}; sleep 600")
    screen = tmux.wait_for("search: a title", timeout=240)  # the query box, focused
    assert "Traceback" not in screen
    # The sync is over and the UI is up; the index is being brought up to date in the
    # background (the real model), and keyword results come as soon as the posts are split.
    tmux.type("pareto best in the world")
    screen = tmux.wait_for("Being the (Pareto) Best in the World", timeout=120)
    assert " results · " in screen
    # Once the posts are split the search runs again by itself; then move to the results.
    tmux.wait_for("embedding passages", timeout=120)
    tmux.wait_until(lambda s: " results · " in s and "searching" not in s, "settled results")
    tmux.keys("Down")
    tmux.wait_for("⏎ Open", timeout=30)  # the footer of the focused result list
    tmux.keys("Enter")
    tmux.wait_for("Cited by", timeout=60)  # the reader's tabs, then its page
    screen = tmux.wait_until(lambda s: "Loading" not in s and "Pareto" in s, "the page")
    assert "Being the (Pareto) Best in the World" in screen
    tmux.keys("C-q")
    deadline = time.monotonic() + 60
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert done.exists(), tmux.screen()
    assert done.read_text().strip() == "0"
    assert "Traceback" not in tmux.screen()
