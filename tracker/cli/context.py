"""What every command is handed: settings and the engine on first use, and expected errors as
one line."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import click
from sqlalchemy import Engine

from tracker.config import Settings, load_settings
from tracker.errors import ConfigError, TrackerError


class Context:
    """Settings, the database engine and the reader, created on first use."""

    def __init__(self, user: str | None = None) -> None:
        self.user = user
        """`--user`, which overrides TRACKER_USER and `user` in config.toml."""

    @cached_property
    def settings(self) -> Settings:
        return load_settings()

    @cached_property
    def engine(self) -> Engine:
        from tracker.store.engine import make_engine

        engine = make_engine(self.settings.sqlalchemy_url)
        ctx = click.get_current_context(silent=True)
        if ctx is not None:  # pooled PostgreSQL connections closed, not left to the collector
            ctx.call_on_close(engine.dispose)
        return engine

    @cached_property
    def reader(self) -> str:
        """The reader the command acts for: registered, or a ConfigError naming the known ones."""
        from tracker import store
        from tracker.store.engine import session_scope

        with session_scope(self.engine) as session:
            return store.check_reader(session=session, name=self.user or self.settings.user)


class TrackerGroup(click.Group):
    """Turns expected errors into one line on stderr: exit 1, or 2 for configuration."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as e:
            raise _ConfigProblem(e.msg) from e
        except TrackerError as e:
            raise click.ClickException(e.msg) from e


class _ConfigProblem(click.ClickException):
    """A configuration or usage problem: one line, exit status 2."""

    exit_code = 2


pass_context = click.make_pass_decorator(Context, ensure=True)


def single_blas_thread() -> None:
    """One BLAS thread for query work: a query is ~20 tokens, and handing such small matrix
    products to a second thread made embedding one 4x slower here (65 ms against 16 ms).
    Effective only if numpy is not imported yet, as in a fresh `tracker search`."""
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
