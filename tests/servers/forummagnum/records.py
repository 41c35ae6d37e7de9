"""The request log: one RequestRecord per answered request, with its OperationInfos."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.servers.forummagnum.base import Doc


@dataclass(frozen=True)
class OperationInfo:
    """One root field of a GraphQL request, as the request log records it."""

    name: str | None  # the operation's name
    root: str  # posts, post, comments, comment
    alias: str
    terms: Doc  # resolved view terms for posts/comments (either query shape), else {}
    arguments: Doc

    @property
    def view(self) -> str | None:
        view = self.terms.get("view")
        return view if isinstance(view, str) else None

    def to_json(self) -> Doc:
        return {
            "name": self.name,
            "root": self.root,
            "alias": self.alias,
            "view": self.view,
            "terms": self.terms,
            "arguments": self.arguments,
        }


@dataclass
class RequestRecord:
    """One HTTP request the server answered (control requests are not recorded)."""

    time: float  # time.monotonic() when the request line arrived
    method: str
    path: str  # request target as sent, query string included
    site: str | None
    headers: dict[str, str]  # names lower-cased
    client: tuple[str, int]  # peer address and port: one port per keep-alive connection
    body: str = ""
    operations: list[OperationInfo] = field(default_factory=list)
    batch: bool = False
    status: int | None = None
    fault: str | None = None  # kind of the fault applied, if any
    server_time: float | None = (
        None  # seconds spent building the response (faults' sleeps excluded)
    )

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("user-agent")

    @property
    def roots(self) -> list[str]:
        return [o.root for o in self.operations]

    @property
    def terms(self) -> Doc:
        """Terms of the first posts/comments field, or {}."""
        return next((o.terms for o in self.operations if o.root in ("posts", "comments")), {})

    @property
    def view(self) -> str | None:
        view = self.terms.get("view")
        return view if isinstance(view, str) else None

    def to_json(self) -> Doc:
        return {
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "site": self.site,
            "headers": self.headers,
            "client": list(self.client),
            "body": self.body,
            "operations": [o.to_json() for o in self.operations],
            "batch": self.batch,
            "status": self.status,
            "fault": self.fault,
            "server_time": self.server_time,
        }
