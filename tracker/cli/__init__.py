"""The `tracker` command line:

one click group; each module here adds one family of commands. Heavy imports happen inside the
commands that need them.
"""

from __future__ import annotations

import logging
import sys

import click

from tracker import __version__
from tracker.cli import (
    api,
    argued,
    claims,
    doctor,
    documents,
    history,
    model,
    readers,
    search,
    service,
    sources,
    tags,
    tui,
)
from tracker.cli.context import Context, TrackerGroup


@click.group(cls=TrackerGroup)
@click.version_option(__version__, prog_name="tracker")
@click.option("-v", "--verbose", is_flag=True, help="Log requests, retries and batches.")
@click.option("--user", metavar="NAME",
              help="Act as this reader (default: TRACKER_USER, else `default`).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, user: str | None) -> None:
    """Track AI-alignment posts, comments and papers: sync, search, read, tag."""
    ctx.obj = Context(user)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # httpx logs every request at INFO; the warnings that matter are our own.
        logging.getLogger("httpx").setLevel(logging.WARNING)


# Each module defines its commands on its own; they are registered here and import nothing back.
for _command in (
    sources.sync, sources.add, sources.feeds, history.backfill, history.import_command,
    documents.status, documents.show, documents.links, documents.show_paths, doctor.doctor,
    search.index_command, search.search, search.similar, model.model,
    claims.claim, claims.export, argued.argued, readers.reader, tags.tag,
    service.follow, service.unfollow, service.interests, service.digest, service.serve,
    tui.tui, api.api, api.mcp,
):
    cli.add_command(_command)
