"""Faults that tests inject: what goes wrong (Fault), for which requests (Match), queued in
a FaultQueue."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tests.servers.forummagnum.base import Doc
from tests.servers.forummagnum.records import RequestRecord
from tests.servers.forummagnum.schema import _RESOLVER_STACK


@dataclass(frozen=True)
class Match:
    """Which requests a fault applies to; unset fields match anything."""

    site: str | None = None
    root: str | None = None  # "posts", "comments", "post", "comment"
    view: str | None = None
    operation: str | None = None  # the GraphQL operation name
    method: str | None = None
    predicate: Callable[[RequestRecord], bool] | None = field(default=None, compare=False)

    def matches(self, record: RequestRecord) -> bool:
        ops = record.operations
        checks = (
            self.site is None or record.site == self.site,
            self.method is None or record.method == self.method.upper(),
            self.root is None or any(o.root == self.root for o in ops),
            self.view is None or any(o.view == self.view for o in ops),
            self.operation is None or any(o.name == self.operation for o in ops),
        )
        return all(checks) and (self.predicate is None or self.predicate(record))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Match:
        """The inverse of `to_json`.

        Raises:
            ValueError: a key other than site, root, view, operation or method.
        """
        unknown = set(data) - {"site", "root", "view", "operation", "method"}
        if unknown:
            raise ValueError(f"Unknown match keys {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> Doc:
        if self.predicate is not None:
            raise ValueError(
                "A predicate cannot cross processes; match on site/root/view/operation"
            )
        return {k: getattr(self, k) for k in ("site", "root", "view", "operation", "method")}


_CHALLENGE_HTML = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">\
<meta name="viewport" \
content="width=device-width, initial-scale=1"><title>Vercel Security Checkpoint</title><style>\
body{font-family:system-ui,sans-serif;display:flex;align-items:center;justify-content:center;\
height:100vh;margin:0}</style></head><body><main><div class="spinner"></div>\
<h1>We're verifying your \
browser</h1><p>Vercel Security Checkpoint</p><noscript>Please enable JavaScript to continue.\
</noscript></main><script src="/.well-known/vercel/security/static/challenge.v2.min.js"></script>\
</body></html>"""
_SITE_HTML = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>LessWrong</title>\
<link rel="stylesheet" href="/allStyles"></head><body><div id="react-app"><div class="Layout-main">\
<h1>LessWrong</h1><p>A community blog devoted to refining the art of rationality</p></div></div>\
<script src="/_next/static/chunks/main.js"></script></body></html>"""
_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    403: "Forbidden",
}


@dataclass(frozen=True)
class Fault:
    """Something to go wrong with the next matching request(s). Build one with a constructor
    (`Fault.status(429, headers={"Retry-After": "1"})`), narrow it with `.only(...)`,
    `.after(n)` and `.repeat(n)`, and push it on `server.faults`.
    """

    kind: str
    http_status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    content_type: str | None = None
    delay_s: float = 0.0
    repeat_count: int | None = 1  # None: every matching request until cleared
    skip_count: int = 0
    match: Match = field(default_factory=Match)
    partial: bool = True
    mode: str = "null_result"  # graphql_errors: null_result | drop | field
    index: int = 0
    field_name: str | None = None
    message: str = "app.missing_document"
    mid_stream: bool = False

    KINDS = (
        "status",
        "delay",
        "truncated_json",
        "malformed_json",
        "challenge",
        "html_page",
        "graphql_errors",
        "disconnect",
    )

    @classmethod
    def status(
        cls,
        code: int,
        headers: Mapping[str, str] | None = None,
        *,
        body: str | None = None,
        content_type: str | None = None,
    ) -> Fault:
        """Answer with this status (plain-text reason body unless `body` is given)."""
        text = body if body is not None else f"{code} {_REASONS.get(code, 'Error')}"
        return cls(
            "status", code, dict(headers or {}), text, content_type or "text/plain; charset=utf-8"
        )

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Sleep before answering normally, to trip client timeouts."""
        return cls("delay", delay_s=seconds)

    @classmethod
    def truncated_json(cls, *, mid_stream: bool = False) -> Fault:
        """The real JSON body cut in half; `mid_stream` promises the full Content-Length and
        closes the connection halfway instead (the client sees an incomplete read)."""
        return cls("truncated_json", mid_stream=mid_stream)

    @classmethod
    def malformed_json(cls) -> Fault:
        """HTTP 200, `application/json`, a body that is not valid JSON."""
        return cls("malformed_json")

    @classmethod
    def challenge(cls) -> Fault:
        """Vercel Attack Challenge Mode: 429, the Security Checkpoint HTML page,
        `x-vercel-mitigated: challenge`."""
        headers = {
            "x-vercel-mitigated": "challenge",
            "x-vercel-challenge-token": "2.1764212345.60.abc",
            "cache-control": "private, no-store, max-age=0",
        }
        return cls("challenge", 429, headers, _CHALLENGE_HTML, "text/html; charset=utf-8")

    @classmethod
    def html_page(cls, status: int = 200) -> Fault:
        """An HTML page where JSON was expected."""
        return cls("html_page", status, {}, _SITE_HTML, "text/html; charset=utf-8")

    @classmethod
    def graphql_errors(
        cls,
        partial: bool = True,
        *,
        mode: str = "null_result",
        index: int = 0,
        field: str | None = None,
        message: str = "app.missing_document",
    ) -> Fault:
        """HTTP 200 with resolver errors. `partial=False` nulls each root field. Otherwise
        `mode` "null_result" nulls `results[index]`, "drop" removes it, and "field" nulls one
        field of it (`field`, default the first besides `_id`); `errors[].path` points there."""
        if mode not in ("null_result", "drop", "field"):
            raise ValueError(
                f"Unknown graphql_errors mode {mode!r}: use null_result, drop or field"
            )
        return cls(
            "graphql_errors",
            partial=partial,
            mode=mode,
            index=index,
            field_name=field,
            message=message,
        )

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without answering."""
        return cls("disconnect")

    def only(
        self,
        *,
        site: str | None = None,
        root: str | None = None,
        view: str | None = None,
        operation: str | None = None,
        method: str | None = None,
        predicate: Callable[[RequestRecord], bool] | None = None,
    ) -> Fault:
        """Apply only to requests that match (a predicate works in-process only)."""
        return replace(self, match=Match(site, root, view, operation, method, predicate))

    def after(self, n: int) -> Fault:
        """Let the first `n` matching requests through; fire from the (n+1)-th."""
        return replace(self, skip_count=n)

    def repeat(self, times: int | None) -> Fault:
        """Fire on `times` matching requests (None: all of them, until cleared)."""
        return replace(self, repeat_count=times)

    def with_delay(self, seconds: float) -> Fault:
        """Also sleep this long before answering."""
        return replace(self, delay_s=seconds)

    def to_json(self) -> Doc:
        """The payload `POST /_control {"action": "push_fault", "fault": ...}` accepts."""
        return {
            "kind": self.kind,
            "status": self.http_status,
            "headers": dict(self.headers),
            "body": self.body,
            "content_type": self.content_type,
            "delay": self.delay_s,
            "times": self.repeat_count,
            "skip": self.skip_count,
            "match": self.match.to_json(),
            "partial": self.partial,
            "mode": self.mode,
            "index": self.index,
            "field": self.field_name,
            "message": self.message,
            "mid_stream": self.mid_stream,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """The inverse of `to_json`; omitted keys keep the constructor's defaults.

        Raises:
            ValueError: unknown kind or keys.
        """
        kind = data.get("kind")
        builders: dict[str, Callable[[], Fault]] = {
            "status": lambda: cls.status(int(data.get("status") or 500), data.get("headers")),
            "delay": lambda: cls.delay(float(data.get("delay") or 0)),
            "truncated_json": lambda: cls.truncated_json(mid_stream=bool(data.get("mid_stream"))),
            "malformed_json": cls.malformed_json,
            "challenge": cls.challenge,
            "html_page": lambda: cls.html_page(int(data.get("status") or 200)),
            "graphql_errors": lambda: cls.graphql_errors(bool(data.get("partial", True))),
            "disconnect": cls.disconnect,
        }
        if kind not in builders:
            raise ValueError(f"Unknown fault kind {kind!r}; use one of {', '.join(cls.KINDS)}")
        keys = {
            "status": "http_status",
            "headers": "headers",
            "body": "body",
            "content_type": "content_type",
            "delay": "delay_s",
            "times": "repeat_count",
            "skip": "skip_count",
            "partial": "partial",
            "mode": "mode",
            "index": "index",
            "field": "field_name",
            "message": "message",
            "mid_stream": "mid_stream",
        }
        unknown = set(data) - set(keys) - {"kind", "match"}
        if unknown:
            raise ValueError(f"Unknown fault keys {sorted(unknown)}")
        fault = builders[kind]()
        changes = {
            keys[k]: v for k, v in data.items() if k in keys and (v is not None or k == "times")
        }
        if changes.get("mode", "null_result") not in ("null_result", "drop", "field"):
            raise ValueError(f"Unknown graphql_errors mode {changes['mode']!r}")
        return replace(fault, **changes, match=Match.from_json(data.get("match") or {}))


class FaultQueue:
    """Faults waiting for requests, in order; the first eligible one fires per request."""

    def __init__(self) -> None:
        self._entries: list[list[Any]] = []  # [fault, remaining (None: unlimited), to_skip]
        self._lock = threading.Lock()

    def push(self, *faults: Fault) -> None:
        """Queue faults after those already waiting."""
        with self._lock:
            self._entries.extend([f, f.repeat_count, f.skip_count] for f in faults)

    def clear(self) -> None:
        """Drop every waiting fault."""
        with self._lock:
            self._entries.clear()

    def pending(self) -> list[Fault]:
        """The faults still waiting."""
        with self._lock:
            return [e[0] for e in self._entries]

    def __len__(self) -> int:
        return len(self.pending())

    def take(self, record: RequestRecord) -> Fault | None:
        """The fault to apply to this request, if any (updates the counters)."""
        with self._lock:
            for entry in self._entries:
                fault, remaining, to_skip = entry
                if not fault.match.matches(record):
                    continue
                if to_skip > 0:
                    entry[2] -= 1
                    continue
                if remaining is not None:
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._entries.remove(entry)
                return fault  # type: ignore[no-any-return]
        return None


def _inject_graphql_errors(result: Doc, fault: Fault) -> Doc:
    data = result.get("data")
    if not isinstance(data, dict):
        return result
    errors = list(result.get("errors", []))
    for key, value in data.items():
        if not isinstance(value, dict):
            continue
        path: list[str | int]
        if not fault.partial:
            data[key], path = None, [key]
        elif isinstance(value.get("results"), list) and value["results"]:
            results = value["results"]
            i = min(fault.index, len(results) - 1)
            path = [key, "results", i]
            if fault.mode == "drop":
                del results[i]
            elif fault.mode == "field" and isinstance(results[i], dict):
                name = fault.field_name or next((k for k in results[i] if k != "_id"), "_id")
                results[i][name] = None
                path.append(name)
            else:
                results[i] = None
        elif "result" in value:
            value["result"], path = None, [key, "result"]
        else:
            continue
        stack = [f"Error: {fault.message}", *_RESOLVER_STACK]
        errors.append(
            {
                "message": fault.message,
                "locations": [],
                "path": path,
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "stacktrace": stack},
            }
        )
    result["errors"] = errors
    return result
