"""Domain adaptation: the packaged MiniLM fine-tuned on pairs from the user's own store.

Pairs are (something a person might remember, the passage it points at): a document's title
and one of its passages' text, the anchor text of a link and the first passage it cites.
sentence-transformers' MultipleNegativesRankingLoss treats the other positives of a batch as
negatives. The loop is plain torch (AdamW, linear warm-up) rather than the library's Trainer,
which would pull in `datasets` and `accelerate` for a few hundred steps. Bounded by `max_steps`
and `max_seconds`; nothing is downloaded.
"""

from __future__ import annotations

import os
import random
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.errors import IndexBackendError

from .embedder import model_path
from .local_models import models_dir, new_adapted_name, write_provenance


@dataclass(frozen=True)
class TrainingPair:
    """An anchor (title, link text) and the passage text it should find."""

    anchor: str
    passage: str
    kind: str
    """`title` or `anchor` (link text)."""


@dataclass
class AdaptReport:
    """What one adaptation did."""

    name: str = ""
    path: str = ""
    pairs: int = 0
    steps: int = 0
    seconds: float = 0.0
    first_loss: float = 0.0
    last_loss: float = 0.0


AdaptProgress = Callable[[int, int, float], None]
"""Called with the step, the planned steps and the mean loss so far."""


def adapt_model(
    base: str, pairs: Sequence[TrainingPair], *, max_steps: int = 300, batch_size: int = 32,
    max_seconds: float = 600.0, learning_rate: float = 2e-5, max_tokens: int = 128,
    threads: int | None = None, seed: int = 0, progress: AdaptProgress | None = None,
) -> AdaptReport:
    """Fine-tune `base` on `pairs` and save it in the data directory as `adapted-<time>`.

    Raises:
        IndexBackendError: the base is not a local model, or there are too few pairs.
    """
    source = model_path(base)
    if source is None:
        raise IndexBackendError(f"No local folder for the model '{base}'; set index.model")
    if len(pairs) < batch_size:
        raise IndexBackendError(
            f"Only {len(pairs)} training pairs in the store; adapting needs at least "
            f"{batch_size}: sync and `tracker index` more documents first")
    model = _load(source, threads)
    model.max_seq_length = max_tokens  # 128 word pieces: 2-3x cheaper steps than 256
    report = AdaptReport(name=new_adapted_name(), pairs=len(pairs))
    started = time.monotonic()
    losses = _train(model, list(pairs), max_steps=max_steps, batch_size=batch_size,
                    max_seconds=max_seconds, learning_rate=learning_rate, seed=seed,
                    progress=progress)
    report.seconds, report.steps = time.monotonic() - started, len(losses)
    report.first_loss, report.last_loss = _mean(losses[:10]), _mean(losses[-10:])
    model.max_seq_length = 256  # embed as the base model does
    report.path = str(_save(model, report, base, pairs, batch_size, learning_rate))
    return report


def _load(source: Path, threads: int | None) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    if threads:
        torch.set_num_threads(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' own deprecations on load
        return SentenceTransformer(str(source), device="cpu")


def _train(model: Any, pairs: list[TrainingPair], *, max_steps: int, batch_size: int,
           max_seconds: float, learning_rate: float, seed: int,
           progress: AdaptProgress | None) -> list[float]:
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    torch.manual_seed(seed)
    loss_fn = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    warmup = max(1, max_steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup))
    model.train()
    losses: list[float] = []
    deadline = time.monotonic() + max_seconds
    for batch in _batches(pairs, batch_size, max_steps, seed):
        features = [_features(model, [p.anchor for p in batch]),
                    _features(model, [p.passage for p in batch])]
        loss = loss_fn(features, torch.empty(0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(len(losses), max_steps, _mean(losses))
        if time.monotonic() > deadline:
            break
    model.eval()
    return losses


def _batches(pairs: list[TrainingPair], size: int, steps: int,
             seed: int) -> list[list[TrainingPair]]:
    """`steps` batches over shuffled epochs; a batch never holds one passage twice (a duplicate
    positive would be scored as its own negative)."""
    rng = random.Random(seed)
    batches: list[list[TrainingPair]] = []
    while len(batches) < steps:
        order = pairs[:]
        rng.shuffle(order)
        batch: list[TrainingPair] = []
        seen: set[str] = set()
        for pair in order:
            if pair.passage in seen:
                continue
            batch.append(pair)
            seen.add(pair.passage)
            if len(batch) == size:
                batches.append(batch)
                batch, seen = [], set()
                if len(batches) == steps:
                    break
    return batches


def _features(model: Any, texts: list[str]) -> dict[str, Any]:
    # sentence-transformers 6 renamed `tokenize` to `preprocess`, which adds non-tensor keys.
    prepare = getattr(model, "preprocess", None) or model.tokenize
    features: dict[str, Any] = prepare(texts)
    return {key: value.to(model.device) if hasattr(value, "to") else value
            for key, value in features.items()}


def _save(model: Any, report: AdaptReport, base: str, pairs: Sequence[TrainingPair],
          batch_size: int, learning_rate: float) -> Path:
    target = models_dir() / report.name
    scratch = target.with_name(target.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    model.save(str(scratch))
    kinds: dict[str, int] = {}
    for pair in pairs:
        kinds[pair.kind] = kinds.get(pair.kind, 0) + 1
    write_provenance(scratch, kind="adapted", base_model=base,
                     method="sentence-transformers MultipleNegativesRankingLoss",
                     training_pairs=len(pairs), pairs_by_kind=kinds, steps=report.steps,
                     batch_size=batch_size, learning_rate=learning_rate,
                     seconds=round(report.seconds, 1), first_loss=round(report.first_loss, 4),
                     last_loss=round(report.last_loss, 4))
    scratch.replace(target)
    return target


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
