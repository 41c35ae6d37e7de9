"""ASGI guards both servers share: request size, the bearer token, and the bind rule."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from tracker.apisettings import ApiSettings
from tracker.errors import ConfigError

Scope = dict[str, Any]
App = Any


def check_bind(api: ApiSettings, host: str) -> None:
    """Refuse a non-loopback bind without a token (`ConfigError`: exit 2)."""
    if not api.loopback(host) and api.token is None:
        raise ConfigError(f"refusing to listen on {host} without a token: set "
                          f"TRACKER_API__TOKEN in the environment, or bind 127.0.0.1")


def check_token_source(config_text: str | None) -> None:
    """`api.token` belongs in the environment: refuse it in config.toml (exit 2)."""
    import tomllib

    if config_text is None:
        return
    try:
        section = tomllib.loads(config_text).get("api", {})
    except tomllib.TOMLDecodeError:
        return  # load_settings reports a bad file with its own message
    if isinstance(section, dict) and "token" in section:
        raise ConfigError("api.token must not be in config.toml: set TRACKER_API__TOKEN in "
                          "the environment instead")


@dataclass(frozen=True)
class Caller:
    """Who sent a request: a reader's token names them; the server's token or none acts for
    the server's reader (`reader` None)."""

    reader: str | None
    token: bool


CALLER: ContextVar[Caller | None] = ContextVar("tracker_api_caller", default=None)
"""The request's caller, set by `Guard` (endpoint threads inherit the request's context)."""

TokenLookup = Callable[[str], str | None]


def identify(api: ApiSettings, headers: list[tuple[bytes, bytes]],
             lookup: TokenLookup | None) -> Caller | None:
    """The caller of a request; None (401) for a wrong token, or none where one is needed."""
    given = dict(headers).get(b"authorization", b"")
    if api.token is not None and authorized(api, headers):
        return Caller(None, token=True)
    if lookup is not None and given.startswith(b"Bearer "):
        name = lookup(given.removeprefix(b"Bearer ").decode("latin-1"))
        if name is not None:
            return Caller(name, token=True)
        return None  # a wrong token is refused even on an open server: it meant someone
    if api.token is None:
        return Caller(None, token=False)
    return None


def authorized(api: ApiSettings, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the request carries the configured token (always true when none is set)."""
    if api.token is None:
        return True
    expected = b"Bearer " + api.token.get_secret_value().encode()
    given = dict(headers).get(b"authorization", b"")
    return hmac.compare_digest(given, expected)


class Guard:
    """Refuses oversized requests (413) and, with a token set, requests without it (401); a
    reader's token (looked up by `readers`) makes the request act for that reader."""

    def __init__(self, app: App, api: ApiSettings, readers: TokenLookup | None = None) -> None:
        self.app, self.api, self.readers = app, api, readers

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.api.max_body_bytes
        if len(scope.get("query_string", b"")) > limit:
            await _refuse(send, 413, f"the query string is over {limit} bytes "
                          f"(api.max_body_bytes); send a shorter query")
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _refuse(send, 413, f"the request body is {int(length)} bytes; at most "
                          f"{limit} are accepted (api.max_body_bytes)")
            return
        caller = identify(self.api, scope["headers"], self.readers)
        # The look-up is one indexed SELECT (~1 ms), done on the event loop before the app runs.
        if caller is None:
            await _refuse(send, 401, "missing or wrong token: send `Authorization: Bearer "
                          "<TRACKER_API__TOKEN>` or a reader's (`tracker reader token NAME`)")
            return
        reset = CALLER.set(caller)
        try:
            await self.app(scope, _capped(receive, limit), send)
        finally:
            CALLER.reset(reset)


def _capped(receive: Any, limit: int) -> Any:
    """A body without Content-Length (chunked) is counted as it arrives."""
    seen = 0

    async def wrapped() -> Any:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped


class BodyTooLarge(Exception):
    """A chunked body went past `api.max_body_bytes`."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is over {limit} bytes (api.max_body_bytes)")


async def _refuse(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message, "status": status}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
