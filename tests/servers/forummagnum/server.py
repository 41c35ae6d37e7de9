"""HTTP transport: the request handler, ForumServer and its `/_control` endpoint."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.forummagnum.base import Doc
from tests.servers.forummagnum.data import ForumData
from tests.servers.forummagnum.faults import Fault, FaultQueue, _inject_graphql_errors
from tests.servers.forummagnum.records import RequestRecord
from tests.servers.forummagnum.schema import _bad_request
from tests.servers.forummagnum.site import Site

_JSON = "application/json; charset=utf-8"
_CSRF_MESSAGE = (
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Please "
    "either specify a 'content-type' header (with a type that is not one of "
    "application/x-www-form-urlencoded, multipart/form-data, text/plain) or provide a non-empty "
    "value for one of the following headers: x-apollo-operation-name, apollo-require-preflight\n"
)
_SIMPLE_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
_BLOCKED_AGENTS = ("curl/", "wget/")  # ForumMagnum #5119, LessWrong-Portable #22: 403s
_MUTATIONS = (
    "edit_post",
    "delete_post",
    "add_post",
    "edit_comment",
    "delete_comment",
    "add_comment",
    "set_score",
)


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = _JSON
    headers: Mapping[str, str] = field(default_factory=dict)
    send_bytes: int | None = None  # stop after this many bytes and drop the connection
    disconnect: bool = False  # hang up without answering


class _HTTPError(Exception):
    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        super().__init__(status)
        self.response = _Response(status, body, content_type)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "Vercel"
    sys_version = ""
    timeout = 120  # seconds an idle keep-alive connection stays open
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.forum._dispatch(self, "GET")

    def do_POST(self) -> None:
        self.server.forum._dispatch(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the server's request log records every request."""

    def write(self, response: _Response | None) -> None:
        """Send a response; None (the server is stopping) just closes the connection."""
        if response is None or response.disconnect:
            self.close_connection = True
            if response is not None:
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection or response.send_bytes is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        body = response.body
        self.wfile.write(body if response.send_bytes is None else body[: response.send_bytes])
        if response.send_bytes is not None:
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins the handler threads

    def __init__(self, address: tuple[str, int], forum: ForumServer) -> None:
        self.forum = forum
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections."""
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients hanging up are normal here
            super().handle_error(request, client_address)


class ForumServer:
    """A real HTTP/1.1 server on 127.0.0.1 hosting one or more ForumMagnum sites.

    `ForumServer(data)` serves `data` at `/graphql` (and at `/<site>/graphql`); more sites
    come through `sites=[Site.eaforum(ea_data), ...]`, each at `/<name>/graphql`. Use it as a
    context manager or call `start()` / `stop()`.
    """

    def __init__(
        self,
        data: ForumData | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sites: Iterable[Site] = (),
    ) -> None:
        all_sites = ([Site.for_data(data)] if data is not None else []) + list(sites)
        if not all_sites:
            raise ValueError("ForumServer needs data or at least one Site")
        self.sites: dict[str, Site] = {s.name: s for s in all_sites}
        self.default_site = all_sites[0]
        self.host, self._port = host, port
        self.faults = FaultQueue()
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> ForumServer:
        """Bind and serve in a background thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self._port), self)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="forum-server"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join every thread."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        assert self._thread is not None
        self._thread.join()
        self._httpd, self._thread = None, None

    def __enter__(self) -> ForumServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("ForumServer is not running: call start() first")
        return f"http://{self.host}:{self._port}"

    @property
    def url(self) -> str:
        """The default site's endpoint, `http://127.0.0.1:PORT/graphql`."""
        return f"{self.base_url}/graphql"

    @property
    def control_url(self) -> str:
        return f"{self.base_url}/_control"

    def site_url(self, name: str) -> str:
        """A site's endpoint, `http://127.0.0.1:PORT/<name>/graphql`.

        Raises:
            KeyError: no site has this name.
        """
        if name not in self.sites:
            raise KeyError(f"No site named {name!r}; sites are {sorted(self.sites)}")
        return f"{self.base_url}/{name}/graphql"

    @property
    def data(self) -> ForumData:
        """The default site's data."""
        return self.default_site.data

    # -- request log ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests answered so far, oldest first (a copy)."""
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Forget the logged requests."""
        with self._log_lock:
            self._log.clear()

    # -- serving --------------------------------------------------------------------------------

    def _dispatch(self, handler: _Handler, method: str) -> None:
        """Answer one HTTP request (called on the handler's thread).

        The request is logged before its response goes out, so a client that has its answer
        always finds the request in `requests`.
        """
        target = urlsplit(handler.path)
        if target.path.rstrip("/") == "/_control":
            self._control(handler, method)
            return
        record = RequestRecord(
            time=time.monotonic(),
            method=method,
            path=handler.path,
            site=None,
            headers={k.lower(): v for k, v in handler.headers.items()},
            client=(str(handler.client_address[0]), int(handler.client_address[1])),
        )
        try:
            response = self._serve(handler, record, target.path, target.query)
        except _HTTPError as e:
            response = e.response
        except (BrokenPipeError, ConnectionResetError):
            response = None
        except Exception as e:  # a bug here must reach the test, not hang the client
            traceback.print_exc()
            handler.close_connection = True
            body = json.dumps(_bad_request(f"Test server error: {e!r}", "INTERNAL_SERVER_ERROR"))
            response = _Response(500, body.encode("utf-8"))
        record.status = None if response is None or response.disconnect else response.status
        with self._log_lock:
            self._log.append(record)
        try:
            handler.write(response)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    def _site_for(self, path: str) -> Site | None:
        if path == "/graphql":
            return self.default_site
        parts = path.strip("/").split("/")
        return self.sites.get(parts[0]) if len(parts) == 2 and parts[1] == "graphql" else None

    def _serve(
        self, handler: _Handler, record: RequestRecord, path: str, query: str
    ) -> _Response | None:
        started = time.perf_counter()
        site = self._site_for(path)
        body = _read_body(handler) if record.method == "POST" else b""
        record.body = body.decode("utf-8", "replace")
        if site is None:
            page = b"<!DOCTYPE html><title>404: This page could not be found.</title>"
            return _Response(404, page, "text/html; charset=utf-8")
        record.site = site.name
        agent = record.headers.get("user-agent", "").lower()
        if not agent or agent.startswith(_BLOCKED_AGENTS):
            return _Response(403, b"Forbidden", "text/plain; charset=utf-8")
        payloads, record.batch = _payloads(site, record, body, query)
        record.operations = [op for p in payloads for op in site.describe(p)]
        fault = self.faults.take(record)
        record.fault = fault.kind if fault else None
        if fault is not None and fault.delay_s:
            waited = time.perf_counter()
            if self._stopping.wait(fault.delay_s):
                return None
            started += time.perf_counter() - waited
        if fault is not None and fault.kind in ("status", "challenge", "html_page", "disconnect"):
            return _fault_response(fault)
        status, results = _execute_all(site, payloads, record.batch)
        if fault is not None and fault.kind == "graphql_errors":
            results = [_inject_graphql_errors(r, fault) for r in results]
        encoded = json.dumps(
            results if record.batch else results[0], ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
        record.server_time = time.perf_counter() - started
        if fault is not None and fault.kind == "truncated_json":
            half = len(encoded) // 2
            if fault.mid_stream:
                return _Response(status, encoded, send_bytes=half)
            return _Response(status, encoded[:half])
        if fault is not None and fault.kind == "malformed_json":
            encoded = encoded.replace(b'":', b'" ', 1)  # drop the first colon
        return _Response(status, encoded)

    def _control(self, handler: _Handler, method: str) -> None:
        try:
            payload = (
                json.loads(_read_body(handler) or b"{}")
                if method == "POST"
                else {"action": "status"}
            )
            answer = self._control_action(payload)
            status = 200
        except (ValueError, KeyError, TypeError) as e:
            answer, status = {"ok": False, "error": f"{type(e).__name__}: {e}"}, 400
        body = json.dumps(answer, ensure_ascii=False, default=str).encode("utf-8")
        handler.write(_Response(status, body))

    def _control_action(self, payload: Mapping[str, Any]) -> Doc:
        action = payload.get("action")
        if action == "push_fault":
            self.faults.push(Fault.from_json(payload["fault"]))
            return {"ok": True, "pending": len(self.faults)}
        if action == "clear_faults":
            self.faults.clear()
            return {"ok": True}
        if action == "log":
            since = int(payload.get("since") or 0)
            return {"ok": True, "requests": [r.to_json() for r in self.requests[since:]]}
        if action == "clear_log":
            self.clear_requests()
            return {"ok": True}
        if action == "mutate":
            method = payload.get("method")
            if method not in _MUTATIONS:
                raise ValueError(f"Unknown mutation {method!r}; use one of {', '.join(_MUTATIONS)}")
            data = self.sites[payload.get("site") or self.default_site.name].data
            return {"ok": True, "result": getattr(data, method)(**(payload.get("kwargs") or {}))}
        if action == "status":
            sites = {name: self.site_url(name) for name in self.sites}
            return {
                "ok": True,
                "sites": sites,
                "pending_faults": len(self.faults),
                "requests": len(self.requests),
            }
        raise ValueError(f"Unknown control action {action!r}")


def _read_body(handler: _Handler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while (size := int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        handler.rfile.readline()
        return b"".join(chunks)
    length = handler.headers.get("Content-Length")
    if length is None:
        if handler.command == "POST":
            handler.close_connection = True
            raise _HTTPError(411, b"Length Required", "text/plain; charset=utf-8")
        return b""
    return handler.rfile.read(int(length))


def _text_error(status: int, message: str) -> _HTTPError:
    return _HTTPError(status, message.encode("utf-8"), "text/plain; charset=utf-8")


def _payloads(site: Site, record: RequestRecord, body: bytes, query: str) -> tuple[list[Doc], bool]:
    headers = record.headers
    preflight = headers.get("x-apollo-operation-name") or headers.get("apollo-require-preflight")
    if record.method == "GET":
        if site.csrf_prevention and not preflight:
            raise _text_error(400, _CSRF_MESSAGE)
        params = {k: v[0] for k, v in parse_qs(query).items()}
        try:
            variables = json.loads(params["variables"]) if "variables" in params else None
        except ValueError as e:
            raise _text_error(400, "`variables` query parameter is not valid JSON.") from e
        get_payload = {
            "query": params.get("query"),
            "variables": variables,
            "operationName": params.get("operationName"),
        }
        return [get_payload], False
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if site.csrf_prevention and content_type in _SIMPLE_TYPES and not preflight:
        raise _text_error(400, _CSRF_MESSAGE)
    if content_type != "application/json":
        raise _text_error(
            400, "POST body missing, invalid Content-Type, or JSON object has no keys."
        )
    try:
        parsed = json.loads(body)
    except ValueError as e:
        raise _text_error(400, f"Invalid JSON body: {e}") from e
    batch = isinstance(parsed, list)
    items = parsed if batch else [parsed]
    if not items or not all(isinstance(i, dict) and i for i in items):
        raise _text_error(
            400, "POST body missing, invalid Content-Type, or JSON object has no keys."
        )
    return items, batch


def _execute_all(site: Site, payloads: list[Doc], batch: bool) -> tuple[int, list[Doc]]:
    answers = [site.execute(p) for p in payloads]
    statuses = {status for status, _ in answers}
    status = answers[0][0] if not batch else (400 if statuses == {400} else 200)
    return status, [result for _, result in answers]


def _fault_response(fault: Fault) -> _Response:
    if fault.kind == "disconnect":
        return _Response(0, b"", disconnect=True)
    content_type = fault.content_type or "text/plain; charset=utf-8"
    return _Response(
        fault.http_status, (fault.body or "").encode("utf-8"), content_type, fault.headers
    )
