"""CLI behaviour that needs no source: paths, status, errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_paths_follow_tracker_home(tmp_path: Path) -> None:
    code, out, _ = run("paths")
    assert code == 0
    home = os.environ["TRACKER_HOME"]
    assert f"data:     {home}" in out
    assert f"config:   {home}/config.toml" in out
    assert f"sqlite:///{home}/tracker.db" in out


def test_status_of_an_empty_store() -> None:
    code, out, _ = run("status", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["documents"] == 0
    assert [s["source"] for s in data["sources"]][:3] == ["lesswrong", "alignmentforum", "eaforum"]
    assert all(s["last_run"] is None for s in data["sources"])
    code, out, _ = run("status")
    assert code == 0 and "lesswrong" in out and "never" in out


def test_show_unknown_document_is_one_line_exit_1() -> None:
    code, _, err = run("show", "doesNotExist12345")
    assert code == 1
    assert err.strip().splitlines() == [
        "Error: No document 'doesNotExist12345' in the store. Give a document id, a native id "
        "(e.g. uMQ3cqWDPHhjtiesc), source:native_id or a URL; `tracker sync` fetches more"
    ]


def test_unknown_source_is_a_usage_error() -> None:
    code, _, err = run("sync", "myspace")
    assert code == 2
    assert "Unknown source 'myspace'" in err


def test_bad_config_file_names_the_file_and_exits_2(tmp_path: Path) -> None:
    config = Path(os.environ["TRACKER_HOME"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[sources.lesswrong]\ndelay = 'soon'\n")
    code, _, err = run("status")
    assert code == 2
    assert str(config) in err and "sources.lesswrong.delay" in err
    config.write_text("this is [not toml")
    code, _, err = run("status")
    assert code == 2 and "is not valid TOML" in err


def test_environment_overrides_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker.config import load_settings

    config = Path(os.environ["TRACKER_HOME"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('contact = "file@example.org"\n[sources.eaforum]\ndelay = 7\n')
    settings = load_settings()
    assert settings.contact == "file@example.org" and settings.sources.eaforum.delay == 7
    assert settings.sources.eaforum.endpoint == "https://forum.effectivealtruism.org/graphql"
    monkeypatch.setenv("TRACKER_SOURCES__EAFORUM__DELAY", "0")
    assert load_settings().sources.eaforum.delay == 0
    assert load_settings(contact="flag@example.org").contact == "flag@example.org"


def test_python_dash_m_tracker_works() -> None:
    result = subprocess.run([sys.executable, "-m", "tracker", "--version"], capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.strip() == "tracker, version 0.1.0"
