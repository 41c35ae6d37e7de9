"""A typo in configuration is an error that names the key and the nearest valid one; secrets
never reach the screen; credentials never travel unencrypted to another machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import cli
from tracker.store.engine import redact_url


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def write_config(text: str) -> Path:
    path = Path(os.environ["TRACKER_HOME"]) / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("config", "key", "nearest"), [
    ('[index]\nmodle = "x"\n', "index.modle", "'model'"),
    ("[sources.lesswrong]\ndealy = 0\n", "sources.lesswrong.dealy", "'delay'"),
    ('[sources.arxiv]\nquerry = "x"\n', "sources.arxiv.querry", "'query'"),
    ("[digest]\nsmtp_hots = \"x\"\n", "digest.smtp_hots", "'smtp_host'"),
    ("[schedule.lesswrong]\nintreval = 60\n", "schedule.lesswrong.intreval", "'interval'"),
    ('[[sources.feeds.feeds]]\nurl = "https://x.org/feed"\nnmae = "x"\n',
     "sources.feeds.feeds.0.nmae", "'name'"),
    ('contcat = "me@example.org"\n', "contcat", "'contact'"),
])
def test_unknown_keys_in_the_file_exit_2_naming_the_nearest(config: str, key: str,
                                                             nearest: str) -> None:
    write_config(config)
    code, out, err = run("status")
    assert code == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert f"unknown key '{key}'" in line and f"did you mean {nearest}" in line


def test_keys_a_source_never_reads_are_refused() -> None:
    write_config('[sources.feeds]\nendpoint = "https://example.org"\nfirst_sync_days = 3\n')
    code, _, err = run("status")
    assert code == 2
    assert "unknown key 'sources.feeds.endpoint'" in err
    assert "unknown key 'sources.feeds.first_sync_days'" in err


@pytest.mark.parametrize(("variable", "expected"), [
    ("TRACKER_SOURCES__LESSWRONG__DEALY", "did you mean 'delay'"),
    ("TRACKER_INDEX__MODLE", "did you mean 'model'"),
    ("TRACKER_SOURCES__LESWRONG__DELAY", "did you mean 'lesswrong'"),
    ("TRACKER_CONTCT", "did you mean TRACKER_CONTACT"),
    ("TRACKER_INDX__MODEL", "did you mean TRACKER_INDEX"),
])
def test_unknown_environment_variables_exit_2(monkeypatch: pytest.MonkeyPatch, variable: str,
                                              expected: str) -> None:
    monkeypatch.setenv(variable, "0")
    code, _, err = run("status")
    assert code == 2
    [line] = err.strip().splitlines()
    assert variable.rsplit("__", 1)[0] in line and expected in line


def test_known_settings_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('contact = "me@example.org"\n[sources.lesswrong]\ndelay = 0\n'
                 '[[sources.feeds.feeds]]\nurl = "https://x.org/feed"\nname = "x"\n')
    monkeypatch.setenv("TRACKER_SOURCES__EAFORUM__DELAY", "0")
    code, _, err = run("status")
    assert code == 0, err


def test_a_bad_value_is_one_line_with_exit_2() -> None:
    write_config('[index]\nbatch_size = "many"\n')
    code, _, err = run("status")
    assert code == 2
    [line] = err.strip().splitlines()
    assert "index.batch_size" in line


@pytest.mark.parametrize("url", [
    "postgresql://reader:s3cr@t-p@ss@db.example.org:5432/tracker",
    "postgresql+psycopg://reader:plain@db.example.org/tracker",
    "postgresql://reader:pa%40ss@db.example.org/tracker",
])
def test_passwords_never_show_even_with_at_signs(url: str) -> None:
    shown = redact_url(url)
    assert "reader:***@db.example.org" in shown
    for secret in ("s3cr", "t-p", "ss@db", "plain", "pa%40ss"):
        assert secret not in shown.replace("db.example.org", "")


def test_paths_hides_the_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_DATABASE_URL", "postgresql://me:top@secret@db.example.org/t")
    code, out, _ = run("paths")
    assert code == 0
    assert "postgresql+psycopg://me:***@db.example.org/t" in out
    assert "top" not in out and "secret" not in out


def test_smtp_login_without_encryption_to_another_host_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"EMAIL_TO": "reader@example.org", "SMTP_HOST": "mail.example.org",
                       "SMTP_SECURITY": "none", "SMTP_USER": "reader",
                       "SMTP_PASSWORD": "hunter2"}.items():
        monkeypatch.setenv(f"TRACKER_DIGEST__{key}", value)
    code, out, err = run("digest", "--email")
    assert code == 2
    [line] = err.strip().splitlines()
    assert "without encryption" in line and "smtp_security" in line
    assert "hunter2" not in out + err
