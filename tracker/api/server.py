"""Serving the apps with uvicorn: in the foreground (`tracker api`) or beside `tracker serve`."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine

from tracker import paths
from tracker.api.guard import check_bind, check_token_source
from tracker.config import Settings

log = logging.getLogger(__name__)


def check_start(settings: Settings, host: str) -> None:
    """Refuse to start with the token in config.toml or on a non-loopback bind without it."""
    config = paths.config_file()
    check_token_source(config.read_text(encoding="utf-8") if config.is_file() else None)
    check_bind(settings.api, host)


def uvicorn_server(app: Any, settings: Settings, host: str, port: int) -> Any:
    """A uvicorn server for `app`; the access log stays off (queries are the user's)."""
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False,
        # A long query string must reach the guard (413 with a message), not die in h11.
        h11_max_incomplete_event_size=settings.api.max_body_bytes * 2,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def run_api(engine: Engine, settings: Settings, host: str, port: int, reader: str = "") -> None:
    """Serve the HTTP API for `reader` (a reader's token acts for them) until Ctrl-C."""
    from tracker.api.app import make_app

    check_start(settings, host)
    log.warning("tracker api on http://%s:%d (OpenAPI at /docs; writes %s)", host, port,
                "on" if settings.api.writes else "off")
    uvicorn_server(make_app(engine, settings, reader), settings, host, port).run()


class Background:
    """The HTTP API in a thread beside `tracker serve`'s scheduler."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        from tracker.api.app import make_app

        api = settings.api
        check_start(settings, api.host)
        self.server = uvicorn_server(make_app(engine, settings), settings, api.host, api.port)
        # uvicorn installs signal handlers only on the main thread; serve keeps its own.
        self.thread = threading.Thread(target=self.server.run, name="tracker-api", daemon=True)

    def start(self) -> None:
        """Start serving; logs the address."""
        self.thread.start()
        log.info("api: http://%s:%d", self.server.config.host, self.server.config.port)

    def stop(self) -> None:
        """Finish open requests and stop."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
