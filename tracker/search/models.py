"""Models made from the user's store: which one indexing and search use, distilling the
static tier, adapting the default model (`tracker model`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tracker.config import Settings
from tracker.store.engine import session_scope

if TYPE_CHECKING:
    from tracker.index.adapt import AdaptProgress, AdaptReport

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def effective(settings: Settings) -> Settings:
    """`settings` with `index.model` set to the model that indexing and search use: the
    newest adapted model when `index.use_adapted` is on and one exists, else as configured."""
    from tracker.index.local_models import newest_adapted

    config = settings.index
    if not config.use_adapted or config.model != DEFAULT_MODEL:
        return settings
    adapted = newest_adapted()
    if adapted is None:
        return settings
    return settings.model_copy(update={"index": config.model_copy(update={"model": adapted})})


def static_model(settings: Settings) -> str:
    """The name of the static model distilled from the configured base model."""
    from tracker.index.local_models import static_name

    return static_name(settings.index.model)


def distill(settings: Settings, *, pca_dims: int = 256, remove_tokens: str | None = None) -> str:
    """Distil the static tier from the configured model; returns its folder."""
    from tracker.index.static import DEFAULT_REMOVE, distill_static

    path = distill_static(settings.index.model, pca_dims=pca_dims,
                          remove_tokens=DEFAULT_REMOVE if remove_tokens is None else remove_tokens,
                          threads=settings.index.threads)
    return str(path)


def adapt(engine: Engine, settings: Settings, *, steps: int | None = None,
          pairs: int | None = None, progress: AdaptProgress | None = None) -> AdaptReport:
    """Fine-tune the configured model on pairs sampled from the store (see `index.adapt`)."""
    from tracker.index.adapt import TrainingPair, adapt_model
    from tracker.store import passages

    config = settings.index
    with session_scope(engine) as session:
        rows = passages.training_pairs(session=session, limit=pairs or config.adapt_pairs)
    training = [TrainingPair(anchor, text, kind) for anchor, text, kind in rows]
    return adapt_model(config.model, training, max_steps=steps or config.adapt_steps,
                       max_seconds=config.adapt_seconds, threads=config.threads,
                       progress=progress)
