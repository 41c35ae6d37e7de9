"""`tracker follow|unfollow|interests|digest|serve`: the commands cli.py attaches to its group."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tracker.errors import TrackerError
from tracker.text import json_text

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tracker.cli.context import Context

_KIND = click.Choice(["search", "author", "tag", "claim", "source"])


@click.command()
@click.argument("kind", type=_KIND)
@click.argument("words", nargs=-1, required=True, metavar="VALUE...")
@click.pass_obj
def follow(obj: Context, kind: str, words: tuple[str, ...]) -> None:
    """Follow a saved search, an author, a tag, a claim (by id) or a source.

    Examples: `tracker follow search reward hacking`, `tracker follow author Paul Christiano`,
    `tracker follow claim 3`, `tracker follow source arxiv`.
    """
    from tracker.service.interests import follow as add
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        interest, added = add(session=session, kind=kind, value=" ".join(words),
                              reader=obj.reader)
    click.echo(f"{'following' if added else 'already following'} {kind} {interest.value}")


@click.command()
@click.argument("kind", type=_KIND)
@click.argument("words", nargs=-1, required=True, metavar="VALUE...")
@click.pass_obj
def unfollow(obj: Context, kind: str, words: tuple[str, ...]) -> None:
    """Stop following something `tracker interests` lists."""
    from tracker.service.interests import unfollow as remove
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        interest = remove(session=session, kind=kind, value=" ".join(words), reader=obj.reader)
    click.echo(f"unfollowed {kind} {interest.value}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; docs/service.md).")
@click.pass_obj
def interests(obj: Context, as_json: bool) -> None:
    """What you follow, and (unless digest.implicit_interests is off) what your tagging implies."""
    from tracker.service.interests import all_topics, list_interests
    from tracker.store.engine import session_scope

    enabled = obj.settings.digest.implicit_interests
    with session_scope(obj.engine) as session:
        explicit = [(i.kind, i.value)
                    for i in list_interests(session=session, reader=obj.reader)]
        implicit = [(t.kind, t.value)
                    for t in all_topics(session=session, implicit=enabled, reader=obj.reader)
                    if t.implicit]
    if as_json:
        click.echo(json_text({
            "explicit": [{"kind": k, "value": v} for k, v in explicit],
            "implicit": [{"kind": k, "value": v} for k, v in implicit],
            "implicit_enabled": enabled}))
        return
    if not explicit and not implicit:
        click.echo("No interests yet: `tracker follow search|author|tag|claim|source VALUE`")
    for kind, value in explicit:
        click.echo(f"{kind:<7} {value}")
    for kind, value in implicit:
        click.echo(f"{kind:<7} {value}  (from your reading and tagging)")
    if not enabled:
        click.echo("implicit interests are off (digest.implicit_interests = false)", err=True)


@click.command()
@click.option("--week", help="ISO week YYYY-Www (default: the last complete week).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the files (default: <data dir>/digests).")
@click.option("--email", is_flag=True, help="Mail it to digest.email_to as well.")
@click.pass_obj
def digest(obj: Context, week: str | None, out: Path | None, email: bool) -> None:
    """Build the weekly digest as Markdown and HTML (plus an Atom feed of all digests).

    Rebuilding a week gives the same files; items shown in an earlier week are left out.
    With --email a failed send is retried, reported (exit 1), and the files are kept.
    """
    from datetime import UTC, datetime

    from tracker import paths
    from tracker.service.digest import parse_week, previous_week
    from tracker.service.publish import make_digest

    settings = obj.settings
    if week is None:
        week = previous_week(datetime.now(UTC), settings.digest.timezone)
    else:
        week = week.strip().upper()
        parse_week(week)
    outcome = make_digest(obj.engine, settings, week, out=out, email=email,
                          data_dir=paths.data_dir(), reader=obj.reader)
    written = outcome.written
    click.echo(f"digest {week}: {outcome.items} items")
    click.echo(f"  {written.markdown}\n  {written.html}\n  {written.feed}")
    if outcome.mailed:
        click.echo(f"mailed to {settings.digest.email_to}")
    if outcome.mail_error:
        raise TrackerError(f"{outcome.mail_error}; the digest files are kept")


@click.command()
@click.pass_obj
def serve(obj: Context) -> None:
    """Run the service: scheduled syncs (schedule.*), index updates and the weekly digest.

    SIGTERM or Ctrl-C stops it after the current page is committed; the next start resumes
    and runs missed syncs once. `tracker status` shows the next run times.
    """
    from tracker.service.scheduler import check_service
    from tracker.service.scheduler import serve as run

    logging.getLogger("tracker").setLevel(logging.INFO)
    settings = obj.settings
    check_service(settings)
    background = None
    if settings.api.enabled:  # [api] enabled: the HTTP API in a thread beside the scheduler
        from tracker.api.server import Background

        background = Background(obj.engine, settings)
        background.start()
    try:
        run(obj.engine, settings, check=False)
    finally:
        if background is not None:
            background.stop()
    click.echo("tracker serve: stopped cleanly", err=True)
    sys.stdout.flush()


def scheduled_json(engine: Engine) -> list[dict[str, str | None]]:
    """`tracker status --json`'s `schedule`: each job of `tracker serve` and its next run."""
    from tracker.service.scheduler import next_runs

    return [{"job": job, "next_run": when.isoformat() if when else None}
            for job, when in next_runs(engine)]


def print_schedule(engine: Engine) -> None:
    """The next run times, under `tracker status`."""
    from tracker.service.scheduler import next_runs

    runs = next_runs(engine)
    if not runs:
        click.echo("schedule: not set up yet (`tracker serve` creates it)")
        return
    click.echo("schedule (tracker serve):")
    for job, when in runs:
        click.echo(f"  {job:<22} next {f'{when:%Y-%m-%d %H:%M:%S} UTC' if when else 'paused'}")
