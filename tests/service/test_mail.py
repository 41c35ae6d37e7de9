"""Mailing digests to a real SMTP server on 127.0.0.1 (aiosmtpd): plain, STARTTLS and SSL."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner

from tests.service.test_digest import WEEK, seed
from tracker.cli import cli
from tracker.config import load_settings
from tracker.store.engine import make_engine

PASSWORD = "hunter2-s3cret"


@dataclass
class Inbox:
    """What the server received; `fail_first` answers that many DATA commands with 451."""

    messages: list[Any] = field(default_factory=list)
    fail_first: int = 0
    attempts: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.attempts <= self.fail_first:
            return "451 4.3.0 try again later"
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                  data: Any) -> AuthResult:
    ok = (isinstance(data, LoginPassword) and data.login == b"me"
          and data.password == PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return server_context, path


@pytest.fixture
def seeded(tmp_path: Path) -> None:
    engine = make_engine(load_settings().sqlalchemy_url)
    seed(engine)
    engine.dispose()
    for args in (("search", "reward", "hacking"), ("author", "Alice"), ("claim", "1")):
        assert CliRunner().invoke(cli, ["follow", *args]).exit_code == 0


def _mail_env(monkeypatch: pytest.MonkeyPatch, port: int, security: str) -> None:
    monkeypatch.setenv("TRACKER_DIGEST__EMAIL_TO", "reader@example.org")
    monkeypatch.setenv("TRACKER_DIGEST__EMAIL_FROM", "tracker@example.org")
    monkeypatch.setenv("TRACKER_DIGEST__SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TRACKER_DIGEST__SMTP_PORT", str(port))
    monkeypatch.setenv("TRACKER_DIGEST__SMTP_SECURITY", security)
    monkeypatch.setenv("TRACKER_DIGEST__SMTP_RETRY_DELAY", "0.05")
    monkeypatch.setenv("TRACKER_DIGEST__SMTP_TIMEOUT", "5")


@pytest.fixture
def plain_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    _mail_env(monkeypatch, port, "none")
    try:
        yield inbox
    finally:
        controller.stop()


def _check_message(message: Any) -> None:
    assert message["To"] == "reader@example.org"
    assert message["From"] == "tracker@example.org"
    assert message["Subject"].startswith(f"tracker digest {WEEK}:")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "## Search: reward hacking" in text
    assert "(https://www.lesswrong.com/posts/new1/reward-hacking-in-practice)" in text
    assert '<a href="https://www.lesswrong.com/posts/new1/reward-hacking-in-practice">' in html
    assert "<h2>Search: reward hacking</h2>" in html


def test_plain_smtp_gets_both_parts_with_links(seeded: None, plain_server: Inbox,
                                               tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["digest", "--week", WEEK, "--email",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.stderr
    assert "mailed to reader@example.org" in result.stdout
    [message] = plain_server.messages
    _check_message(message)


def test_failed_send_is_retried(seeded: None, plain_server: Inbox, tmp_path: Path) -> None:
    plain_server.fail_first = 2
    result = CliRunner().invoke(cli, ["digest", "--week", WEEK, "--email",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.stderr
    assert plain_server.attempts == 3 and len(plain_server.messages) == 1


def test_send_that_keeps_failing_is_reported_and_files_kept(
    seeded: None, plain_server: Inbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_DIGEST__SMTP_RETRIES", "1")
    plain_server.fail_first = 5
    result = CliRunner().invoke(cli, ["digest", "--week", WEEK, "--email",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "after 2 tries: SMTP 451" in result.stderr
    assert "the digest files are kept" in result.stderr
    assert (tmp_path / "out" / f"{WEEK}.md").exists()
    assert (tmp_path / "out" / f"{WEEK}.html").exists()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_with_login_never_logs_the_password(
    security: str, seeded: None, certificate: tuple[ssl.SSLContext, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    context, ca_file = certificate
    inbox, port = Inbox(), _free_port()
    tls: dict[str, Any] = ({"tls_context": context, "require_starttls": True}
                           if security == "starttls" else {"ssl_context": context})
    # aiosmtpd hides AUTH on implicit-TLS connections when auth_require_tls is set (it only
    # notices STARTTLS), so the SSL server allows it: the connection is encrypted either way.
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_authenticate,
                            auth_require_tls=security == "starttls", **tls)
    controller.start()
    try:
        _mail_env(monkeypatch, port, security)
        monkeypatch.setenv("TRACKER_DIGEST__SMTP_CA_FILE", str(ca_file))
        monkeypatch.setenv("TRACKER_DIGEST__SMTP_USER", "me")
        monkeypatch.setenv("TRACKER_DIGEST__SMTP_PASSWORD", PASSWORD)
        result = CliRunner().invoke(cli, ["-v", "digest", "--week", WEEK, "--email",
                                          "--out", str(tmp_path / "out")])
        assert result.exit_code == 0, result.stderr
        [message] = inbox.messages
        _check_message(message)

        monkeypatch.setenv("TRACKER_DIGEST__SMTP_PASSWORD", "wrong-" + PASSWORD)
        result = CliRunner().invoke(cli, ["-v", "digest", "--week", WEEK, "--email",
                                          "--out", str(tmp_path / "out")])
        assert result.exit_code == 1 and "SMTP 535" in result.stderr
        assert PASSWORD not in result.stderr + result.stdout
    finally:
        controller.stop()


def test_password_in_config_file_is_refused(seeded: None, plain_server: Inbox,
                                            tmp_path: Path) -> None:
    from tracker import paths

    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text('[digest]\nsmtp_password = "in-the-file"\n')
    result = CliRunner().invoke(cli, ["digest", "--week", WEEK, "--email",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "TRACKER_DIGEST__SMTP_PASSWORD" in result.stderr
    assert "in-the-file" not in result.stderr
    assert plain_server.messages == []


def test_scheduled_digest_job_writes_and_mails_the_last_week(
    seeded: None, plain_server: Inbox, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from tracker import paths
    from tracker.service import scheduler
    from tracker.service.digest import previous_week
    from tracker.service.scheduler import job_context

    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url)
    with job_context(engine, settings):
        scheduler.run_digest()  # what the job store calls, by name
    engine.dispose()
    week = previous_week(datetime.now(UTC), "UTC")
    assert (paths.data_dir() / "digests" / f"{week}.html").exists()
    [message] = plain_server.messages
    assert message["Subject"].startswith(f"tracker digest {week}:")
