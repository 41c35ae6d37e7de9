"""`tracker model`: the static tier (`distill`), the store-adapted model (`adapt`), `list`."""

from __future__ import annotations

import json
from typing import Any

import click

from tracker.cli.context import Context, pass_context


@click.group()
def model() -> None:
    """Embedding models made here from the packaged MiniLM (no download at any point)."""


@model.command(name="distill")
@click.option("--dims", default=256, show_default=True, type=click.IntRange(8, 384),
              help="Dimensions kept by PCA.")
@click.option("--remove-tokens", default=None, metavar="REGEX",
              help=r"Leave word pieces matching REGEX out (default: \[unused\d+\]).")
@pass_context
def distill(obj: Context, dims: int, remove_tokens: str | None) -> None:
    """Distil the static first tier (model2vec) from index.model into the data directory.

    Minutes on two cores (MiniLM runs once per word piece). Then set index.static_tier (or
    pass `tracker index --static-tier`) to embed every passage with it first.
    """
    from tracker.search.models import distill as run_distill

    click.echo(f"model: distilling a static model from {obj.settings.index.model}", err=True)
    path = run_distill(obj.settings, pca_dims=dims, remove_tokens=remove_tokens)
    click.echo(f"model: static model saved in {path}")


@model.command(name="adapt")
@click.option("--steps", type=click.IntRange(min=1),
              help="Training steps of 32 pairs (default index.adapt_steps: 200).")
@click.option("--pairs", type=click.IntRange(min=64),
              help="Training pairs sampled from the store (default index.adapt_pairs: 4000).")
@pass_context
def adapt(obj: Context, steps: int | None, pairs: int | None) -> None:
    """Fine-tune index.model on (title, passage) and (link text, cited passage) pairs from
    the store; saved as adapted-<time> in the data directory with its provenance.

    It is used in place of the default model only when index.use_adapted is on; then
    `tracker index` embeds every passage again, into a vector index of its own.
    """
    from tracker.search.models import adapt as run_adapt

    def progress(step: int, total: int, loss: float) -> None:
        if step == 1 or step % 25 == 0 or step == total:
            click.echo(f"model: step {step}/{total}, loss {loss:.3f}", err=True)

    report = run_adapt(obj.engine, obj.settings, steps=steps, pairs=pairs, progress=progress)
    click.echo(f"model: {report.name} trained on {report.pairs} pairs in {report.steps} steps "
               f"({report.seconds:.0f} s, loss {report.first_loss:.3f} → "
               f"{report.last_loss:.3f}); saved in {report.path}")


@model.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; see README).")
@pass_context
def list_models(obj: Context, as_json: bool) -> None:
    """Models made here, with their provenance, and the one indexing uses."""
    from tracker.index.local_models import list_models as stored
    from tracker.search.models import effective, static_model

    active = effective(obj.settings).index
    data: dict[str, Any] = {
        "active": active.model, "static_tier": active.static_tier,
        "static": static_model(obj.settings), "models": stored(),
    }
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"indexing and search use: {active.model}"
               + (f" (static tier: {data['static']})" if active.static_tier else ""))
    for entry in data["models"]:
        facts = ", ".join(f"{k} {entry[k]}" for k in ("base_model", "training_pairs", "steps",
                                                     "vocabulary", "dim", "created_at")
                          if k in entry)
        click.echo(f"  {entry['name']}: {facts}")
    if not data["models"]:
        click.echo("  no model made here yet: `tracker model distill`, `tracker model adapt`")
