"""Polite HTTP: one connection per site, a delay between requests, retries with backoff.

Every source gets its `httpx.Client` from `make_client`, so politeness lives in one place:
the transport waits `delay` seconds between requests, retries 429, 5xx and timeouts with
exponential backoff honouring `Retry-After`, and stops at once on a bot-challenge page.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from tracker.errors import ChallengeError, ConfigError, RateLimitedError, SourceError
from tracker.ingest.retry import Transient, policy
from tracker.text import clean_text

log = logging.getLogger(__name__)

# Connection failures after the request went out; a refused or unresolvable host is not here:
# retrying those only delays the one-line error by minutes.
_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
# Bodies are read into memory: no source needs more than this unless its settings say so.
DEFAULT_MAX_BYTES = 32_000_000
# Longest piece of server-chosen text (a reason phrase, an API error) put into an error line.
SERVER_TEXT_CHARS = 300
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A challenge needs a browser running JavaScript, so retrying is useless: wait an hour.
CHALLENGE_WAIT = timedelta(hours=1)
_CHALLENGE_MARKERS = ("vercel security checkpoint", "verifying your browser", "cf-challenge",
                      "challenge-platform", "attention required! | cloudflare")


def server_text(text: str, limit: int = SERVER_TEXT_CHARS) -> str:
    """Text a server chose, fit for an error line: no escapes or controls, one short line."""
    flat = " ".join(clean_text(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), if valid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def is_challenge(response: httpx.Response) -> bool:
    """Whether a response is a bot-challenge page rather than an answer."""
    if response.headers.get("x-vercel-mitigated", "").lower() == "challenge":
        return True
    if response.headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    if "html" not in response.headers.get("content-type", "") or response.status_code < 400:
        return False
    head = response.content[:20_000].decode("utf-8", "replace").lower()
    return any(marker in head for marker in _CHALLENGE_MARKERS)


class PoliteTransport(httpx.BaseTransport):
    """Wraps a transport with a minimum delay between requests and retries with backoff."""

    def __init__(
        self,
        source: str,
        *,
        delay: float,
        max_retries: int,
        backoff: float,
        max_backoff: float,
        inner: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_bytes: int | None = None,
    ) -> None:
        self.source = source
        # None is the default cap, never no cap: every body is read with a limit.
        self.max_bytes = max_bytes or DEFAULT_MAX_BYTES
        self.delay = delay
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        # One connection per site, as the forums' and arXiv's terms ask, kept open across the
        # `delay` between requests: httpx's default 5 s expiry reconnected on a busy machine.
        self._inner = inner or httpx.HTTPTransport(
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1,
                                keepalive_expiry=120)
        )
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_request = float("-inf")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        retrying = policy(
            retries=self.max_retries, backoff=self.backoff, max_backoff=self.max_backoff,
            floor=self.delay, on_retry=self._on_retry, sleep=self._sleep,
        )
        try:
            response: httpx.Response = retrying(self._attempt, request)
        except _Failed as e:
            raise self._give_up(request, e) from e.error
        return response

    def _attempt(self, request: httpx.Request) -> httpx.Response:
        """One try: a response to return, or `_Failed` when asking again may help."""
        with self._lock:
            self._wait_turn()
            try:
                response = self._inner.handle_request(request)
                # Read here so that a timeout while reading the body is retried too.
                response = self._read(request, response)
            except (httpx.TimeoutException, *_DROPPED) as e:
                # A timeout or a connection dropped mid-answer is transient: ask again.
                raise _Failed(e.__class__.__name__, error=e) from e
            except httpx.TransportError as e:
                raise SourceError(
                    f"{self.source}: cannot reach {request.url.host} ({e.__class__.__name__}:"
                    f" {server_text(str(e))}); check the network and the source's endpoint",
                    source=self.source,
                ) from e
            finally:
                self._last_request = time.monotonic()
        if is_challenge(response):
            raise self._challenge(request, response)
        if response.status_code in RETRY_STATUSES:
            response.close()
            told = parse_retry_after(response.headers.get("retry-after"))
            raise _Failed(f"HTTP {response.status_code}", response=response, retry_after=told)
        return response

    def _on_retry(self, error: BaseException, wait: float) -> None:
        log.warning("%s: %s, retrying in %.1fs", self.source, error, wait)
        # The backoff (never shorter than the delay) already spaced the requests out.
        self._last_request = float("-inf")

    def close(self) -> None:
        self._inner.close()

    def _wait_turn(self) -> None:
        wait = self._last_request + self.delay - time.monotonic()
        if wait > 0:
            self._sleep(wait)

    def _read(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        """The response read; past `max_bytes` decoded bytes it is refused before it fills memory.

        `iter_bytes` yields the body decompressed, chunk by chunk, so a gzip bomb is stopped
        after `max_bytes` of output, whatever its compressed size.
        """
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                response.close()
                raise SourceError(
                    f"{self.source}: {request.url.copy_with(query=None)} sent more than "
                    f"{self.max_bytes:,} bytes; refused it. Raise sources.{self.source}.max_bytes "
                    f"if it is really that big",
                    source=self.source,
                )
            chunks.append(chunk)
        # The body is decoded now: drop the headers that described the encoded one.
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks),
                              request=request, extensions=response.extensions)

    def _challenge(self, request: httpx.Request, response: httpx.Response) -> ChallengeError:
        told = parse_retry_after(response.headers.get("retry-after"))
        wait = timedelta(seconds=told) if told else CHALLENGE_WAIT
        retry_at = datetime.now(UTC) + wait
        error = ChallengeError(
            f"{self.source}: {request.url.host} answered HTTP {response.status_code} with a bot "
            f"challenge page instead of data; stopped this source without retrying. Retry after "
            f"{retry_at:%Y-%m-%d %H:%M} UTC, lower the request rate (`delay`), or set "
            f"`extra_header` if the site gave you an access token",
            source=self.source,
        )
        error.retry_at = retry_at  # type: ignore[attr-defined]
        return error

    def _give_up(self, request: httpx.Request, failed: _Failed) -> SourceError:
        tries = self.max_retries + 1
        response = failed.response
        if response is None:
            return SourceError(
                f"{self.source}: no complete answer from {request.url.host} after {tries} tries "
                f"({failed.reason}); the site may be down, retry later", source=self.source,
            )
        if response.status_code == 429:
            retry_at = datetime.now(UTC) + timedelta(seconds=failed.retry_after or 3600)
            error = RateLimitedError(
                f"{self.source}: {request.url.host} kept answering 429 Too Many Requests after "
                f"{tries} tries; retry after {retry_at:%Y-%m-%d %H:%M} UTC or raise `delay`",
                source=self.source,
            )
            error.retry_at = retry_at  # type: ignore[attr-defined]
            return error
        return SourceError(
            f"{self.source}: {request.url.host} answered HTTP {response.status_code} "
            f"{server_text(response.reason_phrase)} {tries} times; the site is failing, retry "
            f"later", source=self.source,
        )


class _Failed(Transient):
    """A try worth repeating: a dropped or timed-out answer (`error`) or a 429/5xx."""

    def __init__(
        self, reason: str, *, error: Exception | None = None,
        response: httpx.Response | None = None, retry_after: float | None = None,
    ) -> None:
        super().__init__(reason, retry_after=retry_after)
        self.error = error
        self.response = response


def parse_extra_header(value: str | None, source: str) -> dict[str, str]:
    """`Name: value` → {Name: value}; the value is a secret and is never logged."""
    if not value:
        return {}
    name, sep, secret = value.partition(":")
    if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
        raise ConfigError(
            f"sources.{source}.extra_header must look like 'Header-Name: value' (got a value "
            f"without a header name)"
        )
    return {name.strip(): secret.strip()}


def make_client(
    source: str,
    *,
    user_agent: str,
    delay: float,
    timeout: float,
    max_retries: int,
    backoff: float,
    max_backoff: float,
    extra_header: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_bytes: int | None = None,
) -> httpx.Client:
    """An `httpx.Client` for one source, with the polite transport and identifying headers."""
    headers = {"User-Agent": user_agent, **parse_extra_header(extra_header, source)}
    transport = PoliteTransport(
        source, delay=delay, max_retries=max_retries, backoff=backoff,
        max_backoff=max_backoff, sleep=sleep, max_bytes=max_bytes,
    )
    return httpx.Client(
        transport=transport, headers=headers, timeout=timeout, follow_redirects=True,
        max_redirects=5,
    )
