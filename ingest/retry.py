"""The one retry policy (tenacity) of the sources and the digest mailer.

A try that fails in a way worth repeating is asked again up to `retries` times; the n-th wait
is `backoff * 2**n`, raised to the server's `Retry-After` when it names a longer one, capped at
`max_backoff`, and never shorter than `floor` (a source's `delay`: arXiv counts retries as
requests). Anything else, a challenge page above all, is raised at once. When the tries run
out, the last error is re-raised for the caller to turn into its one-line message.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt


class Transient(Exception):
    """A failure worth asking again; `retry_after` is the server's wish in seconds, if any."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def wait_seconds(
    attempt: int, *, backoff: float, max_backoff: float, floor: float = 0.0,
    retry_after: float | None = None,
) -> float:
    """Seconds before try `attempt + 2`: doubling backoff, `Retry-After`, cap, then floor."""
    wait = backoff * 2.0**attempt
    if retry_after is not None:
        wait = max(wait, retry_after)
    return max(min(wait, max_backoff), floor)


def policy(
    *,
    retries: int,
    backoff: float,
    max_backoff: float,
    floor: float = 0.0,
    retry_on: Callable[[BaseException], bool] = lambda e: isinstance(e, Transient),
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Retrying:
    """A tenacity `Retrying` for one operation; the last error is re-raised when tries run out."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        told = getattr(error, "retry_after", None)
        return wait_seconds(state.attempt_number - 1, backoff=backoff, max_backoff=max_backoff,
                            floor=floor, retry_after=told if isinstance(told, float) else None)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if on_retry is not None and error is not None:
            on_retry(error, state.upcoming_sleep)

    return Retrying(
        stop=stop_after_attempt(retries + 1),
        wait=wait,
        retry=retry_if_exception(retry_on),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
