"""Mailing digests over SMTP (plain, STARTTLS or SSL). The password is never logged."""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from tracker.errors import ConfigError, TrackerError
from tracker.ingest.retry import policy
from tracker.servicesettings import DigestSettings

log = logging.getLogger(__name__)


# Failures a retry cannot fix: wrong credentials, a server without AUTH, a bad certificate.
_PERMANENT = (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError,
              ssl.SSLCertVerificationError)


class MailError(TrackerError):
    """A digest could not be sent; the digest files are kept."""


def build_message(settings: DigestSettings, subject: str, text: str, html: str) -> EmailMessage:
    """A multipart/alternative message: the Markdown as text/plain, then the HTML."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = _sender(settings)
    message["To"] = ", ".join(settings.recipients)
    message["Message-ID"] = make_msgid(domain=(settings.smtp_host or "tracker.invalid"))
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _sender(settings: DigestSettings) -> str:
    return settings.email_from or f"tracker@{settings.smtp_host or 'localhost'}"


def check_mail_settings(settings: DigestSettings, *, connect: bool) -> None:
    """ConfigError when mail is asked for but not set up (or, with `connect`, unreachable)."""
    _refuse_password_in_file()
    if not settings.recipients:
        raise ConfigError("No digest recipient: set digest.email_to in config.toml or "
                          "TRACKER_DIGEST__EMAIL_TO")
    if not settings.smtp_host:
        raise ConfigError("No SMTP server: set digest.smtp_host in config.toml or "
                          "TRACKER_DIGEST__SMTP_HOST")
    _refuse_plaintext_credentials(settings)
    if connect:
        try:
            with _connect(settings):
                pass
        except (OSError, smtplib.SMTPException) as e:
            raise ConfigError(f"Cannot reach the SMTP server {settings.smtp_host}:"
                              f"{settings.smtp_port} ({_reason(e)}); check digest.smtp_host, "
                              f"digest.smtp_port and digest.smtp_security") from e


def _refuse_plaintext_credentials(settings: DigestSettings) -> None:
    """A login over an unencrypted connection to another machine sends the password in the
    clear to every hop: only a relay on this machine may take one without TLS."""
    if settings.smtp_security != "none" or not (settings.smtp_user or settings.smtp_password):
        return
    if _is_loopback(settings.smtp_host or ""):
        return
    raise ConfigError(f"Refusing to send SMTP credentials to {settings.smtp_host} without "
                      f"encryption: set digest.smtp_security to starttls or ssl (or drop "
                      f"digest.smtp_user for a relay that needs no login)")


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.strip("[]").lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _refuse_password_in_file() -> None:
    """The SMTP password belongs in the environment: config.toml is often shared or copied."""
    import tomllib

    from tracker import paths

    try:
        data = tomllib.loads(paths.config_file().read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return
    if "smtp_password" in data.get("digest", {}):
        raise ConfigError(f"Remove digest.smtp_password from {paths.config_file()} and set "
                          f"TRACKER_DIGEST__SMTP_PASSWORD in the environment instead")


def send_message(settings: DigestSettings, message: EmailMessage) -> int:
    """Send, retrying `smtp_retries` times with a doubling delay; returns the tries it took.

    Raises:
        MailError: every try failed, or one failed in a way a retry cannot fix (the last
            reason is in the message).
    """
    check_mail_settings(settings, connect=False)
    first = settings.smtp_retry_delay
    retrying = policy(
        retries=settings.smtp_retries, backoff=first,
        # No cap beyond the doubling itself: a digest is not in a hurry.
        max_backoff=first * 2.0**settings.smtp_retries,
        retry_on=lambda e: isinstance(e, OSError | smtplib.SMTPException)
        and not isinstance(e, _PERMANENT),
        on_retry=lambda e, wait: log.warning("sending the digest failed (%s); retrying in "
                                             "%.0f s", _reason(e), wait),
    )
    try:
        retrying(_send, settings, message)
    except (OSError, smtplib.SMTPException) as e:
        tries = retrying.statistics.get("attempt_number", 1)
        raise MailError(f"Could not send the digest to {settings.email_to} via "
                        f"{settings.smtp_host}:{settings.smtp_port} after {tries} "
                        f"tries: {_reason(e)}") from e
    return int(retrying.statistics.get("attempt_number", 1))


def _send(settings: DigestSettings, message: EmailMessage) -> None:
    with _connect(settings) as smtp:
        smtp.send_message(message)


def _connect(settings: DigestSettings) -> smtplib.SMTP:
    host, port = settings.smtp_host or "localhost", settings.smtp_port or 25
    timeout = settings.smtp_timeout
    context = ssl.create_default_context(cafile=settings.smtp_ca_file)
    smtp: smtplib.SMTP
    if settings.smtp_security == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        smtp.ehlo()
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_user, password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _reason(error: BaseException) -> str:
    """Why a send failed, without anything the server echoed back (it may hold credentials)."""
    if isinstance(error, smtplib.SMTPResponseException):
        return f"SMTP {error.smtp_code}"
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    return f"{error.__class__.__name__}: {error.strerror or error}" \
        if isinstance(error, OSError) else error.__class__.__name__
