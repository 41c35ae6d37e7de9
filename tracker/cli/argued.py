"""`tracker argued TEXT`: has this been argued before? The earliest and the strongest posts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from tracker.claims.argued import ArguedPost, ArguedReport
    from tracker.cli.context import Context

_QUOTE = 240  # characters of the matching passage shown


@click.command(name="argued")
@click.argument("words", nargs=-1, metavar="[TEXT]...")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
              help="Read the argument from a file ('-' for stdin).")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; docs/claims.md).")
@click.pass_obj
def argued(obj: Context, words: Sequence[str], path: Path | None, limit: int,
           as_json: bool) -> None:
    """Has this been argued before? The earliest and the strongest posts making the argument.

    Example: `tracker argued "optimising a proxy hard makes it come apart from the goal"`.
    """
    from tracker.claims.argued import argued_before
    from tracker.cli.claims import read_text

    text = " ".join(words)
    if path is not None:
        text += "\n" + read_text(path)
    report = argued_before(obj.engine, obj.settings, text, limit=limit)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        _print(report)


def _print(report: ArguedReport) -> None:
    if not report.earliest and not report.strongest:
        click.echo("nothing found: run `tracker index`, or put the argument in other words",
                   err=True)
        return
    if not report.vectors:
        click.echo("(keyword search only: run `tracker index` for meaning-based matches)",
                   err=True)
    click.echo("earliest:")
    for post in report.earliest:
        _print_post(post)
    click.echo("\nstrongest (close, and cited by the other matches):")
    for post in report.strongest:
        _print_post(post)


def _print_post(post: ArguedPost) -> None:
    from tracker.text import clean_text, safe_url

    date = post.posted_at.date().isoformat() if post.posted_at else "undated"
    who = ", ".join(clean_text(a) for a in post.authors) or "unknown author"
    cites = f"  cited by {post.cited_by}" + (f" ({post.cited_by_matches} of these matches)"
                                             if post.cited_by_matches else "")
    click.echo(f"  {date}  {clean_text(post.title)} — {who}  [{post.document_id}]"
               f"  {post.score:.2f}{cites if post.cited_by else ''}")
    quote = " ".join(clean_text(post.quote).split())
    click.echo(f'      "{quote[:_QUOTE]}{"…" if len(quote) > _QUOTE else ""}" '
               f"(chars {post.start}–{post.end})")
    url = safe_url(post.url)
    if url:
        click.echo(f"      {url}")
    for other in post.also_at:
        copy = safe_url(other)
        if copy:
            click.echo(f"      also at {copy}")
