"""`tracker doctor`: what is wrong with the store and the index, and the command that mends it."""

from __future__ import annotations

import click

from tracker.cli.context import Context, pass_context
from tracker.text import json_text


@click.command()
@click.option("--repair", is_flag=True,
              help="Rebuild the keyword index from the passages and drop stray vectors.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@pass_context
def doctor(obj: Context, repair: bool, as_json: bool) -> None:
    """Check the store: SQLite's integrity check, keyword and vector indexes in step with the
    passages, the model's files. One line each; exit status 1 if anything is broken."""
    from tracker.search.health import BROKEN, check
    from tracker.search.health import repair as mend

    if repair:
        for line in mend(obj.engine, obj.settings) or ["nothing to repair"]:
            click.echo(f"repaired: {line}", err=True)
    findings = check(obj.engine, obj.settings)
    if as_json:
        click.echo(json_text([{"part": f.part, "state": f.state, "what": f.what, "fix": f.fix}
                               for f in findings]))
    else:
        for f in findings:
            fix = f" — run: {f.fix}" if f.fix else ""
            click.echo(f"{f.state:<7} {f.part}: {f.what}{fix}")
    if any(f.state == BROKEN for f in findings):
        raise SystemExit(1)
