"""Settings of `tracker serve` and the weekly digest: the `schedule` and `digest` sections."""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from tracker.section import Section

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def check_timezone(name: str) -> str:
    """The IANA zone name, or a ValueError naming it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown timezone '{name}' (use an IANA name such as "
                         f"Europe/London or UTC)") from e
    return name


def check_cron(expression: str) -> str:
    """A five-field crontab expression, or a ValueError naming it."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as e:
        raise ValueError(f"bad cron expression '{expression}': {e} (five fields: "
                         f"minute hour day month weekday, e.g. '0 */6 * * *')") from e
    return expression


class SourceSchedule(Section):
    """When `tracker serve` syncs one source: every `interval` seconds, or on a `cron` line."""

    interval: float | None = Field(default=None, gt=0)
    """Seconds between syncs (ignored when `cron` is set)."""
    cron: str | None = None
    """A crontab line (`minute hour day month weekday`), in `schedule.timezone`."""
    enabled: bool = True
    """Whether `tracker serve` syncs this source at all (it also needs `sources.X.enabled`)."""

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)


def _every(seconds: float) -> SourceSchedule:
    return SourceSchedule(interval=seconds)


class ScheduleSettings(Section):
    """Per-source sync schedules. The defaults are polite: forums hourly (one connection,
    3 s between requests), arXiv daily (its listings change once a day), feeds every 4 hours."""

    lesswrong: SourceSchedule = Field(default_factory=lambda: _every(3600))
    alignmentforum: SourceSchedule = Field(default_factory=lambda: _every(3600))
    eaforum: SourceSchedule = Field(default_factory=lambda: _every(3600))
    arxiv: SourceSchedule = Field(default_factory=lambda: _every(86400))
    feeds: SourceSchedule = Field(default_factory=lambda: _every(4 * 3600))
    timezone: str = "UTC"
    """Zone of the cron lines."""
    index: bool = True
    """Run `tracker index` after each sync that stored something new or changed."""
    misfire_grace: float = Field(default=24 * 3600, gt=0)
    """A run missed by up to this many seconds (the service was down) still runs, once."""

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        return check_timezone(value)

    def of(self, source: str) -> SourceSchedule:
        """The schedule of one source."""
        found = getattr(self, source)
        assert isinstance(found, SourceSchedule)
        return found


class DigestSettings(Section):
    """The weekly digest: when it is built and where it is mailed."""

    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    """Day `tracker serve` builds the digest of the week just ended."""
    time: str = "07:00"
    """Time of day, `HH:MM`, in `digest.timezone`."""
    timezone: str = "UTC"
    """IANA zone of `weekday` and `time`."""
    email_to: str | None = None
    """Recipients, comma-separated; `tracker serve` mails each digest when this is set."""
    email_from: str | None = None
    """Sender address; default `tracker@<smtp_host>`."""
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    """Default 25 (none), 587 (starttls) or 465 (ssl)."""
    smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    """Set it in the environment (TRACKER_DIGEST__SMTP_PASSWORD), not in config.toml; it is
    never logged or shown."""
    smtp_timeout: float = Field(default=30.0, gt=0)
    smtp_retries: int = Field(default=3, ge=0)
    """Extra tries of a failed send, with `smtp_retry_delay` doubling between them."""
    smtp_retry_delay: float = Field(default=5.0, ge=0)
    smtp_ca_file: str | None = None
    """A CA bundle for servers with a private certificate (tests, a local relay)."""
    implicit_interests: bool = True
    """Count documents you tagged (and the authors and tags of those) as interests."""
    per_interest: int = Field(default=5, ge=1, le=100)
    """Most items listed under one interest."""
    most_discussed: int = Field(default=5, ge=0, le=100)
    """Threads listed under "Most discussed"."""

    @field_validator("time")
    @classmethod
    def _valid_time(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"bad time '{value}'; give HH:MM, e.g. 07:30")
        return f"{int(match[1]):02d}:{match[2]}"

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _default_port(self) -> DigestSettings:
        if self.smtp_port is None:
            self.smtp_port = {"none": 25, "starttls": 587, "ssl": 465}[self.smtp_security]
        return self

    @property
    def recipients(self) -> list[str]:
        """The `email_to` addresses."""
        return [a.strip() for a in (self.email_to or "").split(",") if a.strip()]
