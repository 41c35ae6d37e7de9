"""`tracker tui`: the terminal UI."""

from __future__ import annotations

import sys

import click

from tracker.cli.context import Context, pass_context, single_blas_thread
from tracker.errors import TrackerError


@click.command()
@click.option("--screen", type=click.Choice(["search", "claims", "status", "digests"]),
              default="search", show_default=True, help="The screen to open first.")
@click.option("--index/--no-index", "index_on_start", default=True, show_default=True,
              help="Split and embed new documents in the background as the UI opens.")
@pass_context
def tui(obj: Context, screen: str, index_on_start: bool) -> None:
    """Open the terminal UI: search as you type, read with citations, tag claims.

    F1 lists the keys of each screen; ctrl+p opens the command palette; ctrl+q quits (a
    running sync or index run stops at its next checkpoint and resumes next time).
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise TrackerError("`tracker tui` needs a terminal (stdin and stdout); use "
                           "`tracker search`, `tracker show` and `tracker claim` in scripts")
    single_blas_thread()
    from tracker.workbench import make_app

    make_app(obj.engine, obj.settings, start=screen, index_on_start=index_on_start,
             reader=obj.reader).run()
