"""The static first tier: a model2vec model distilled from the packaged MiniLM, run here.

A static model is a table of one vector per word piece (PCA to 256 dimensions, SIF-weighted):
a text's vector is the mean of its word pieces' rows, with no transformer pass, so it embeds
passages orders of magnitude faster than MiniLM (bench/static_tier.py) at a cost in quality
that MiniLM's re-scoring of the top candidates (`tiered.TieredVectors`) wins back.
Distilling runs MiniLM once over each of its ~30k word pieces (minutes on 2 cores), locally:
model2vec is given the packaged model's folder, so nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tracker.errors import IndexBackendError

from .base import Embedder, Vectors
from .embedder import model_path
from .local_models import models_dir, static_name, write_provenance

DEFAULT_REMOVE = r"\[unused\d+\]"


class StaticEmbedder(Embedder):
    """A model2vec static model from a local folder (its name is the folder's name)."""

    def __init__(self, model: str) -> None:
        from model2vec import StaticModel

        path = model_path(model)
        if path is None:
            raise IndexBackendError(
                f"No static model '{model}' in the data directory; run `tracker model distill`")
        self.name = model
        self._model: Any = StaticModel.from_pretrained(str(path), force_download=False)
        self.dim = int(self._model.dim)

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        """Mean of the word pieces' rows, L2-normalised (an empty text gives a zero row)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._model.encode(list(texts), show_progress_bar=False,
                                                use_multiprocessing=False), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def distill_static(base: str, *, pca_dims: int = 256, remove_tokens: str = DEFAULT_REMOVE,
                   threads: int | None = None) -> Path:
    """Distil a static model from `base` into the data directory; returns its folder.

    Args:
        base: the base model's name or folder (the packaged MiniLM by default).
        pca_dims: dimensions kept by PCA (model2vec's default, 256).
        remove_tokens: word pieces matching this regex are left out of the vocabulary.
        threads: CPU threads for the base model.

    Raises:
        IndexBackendError: the base model is not local, or distillation failed.
    """
    source = model_path(base)
    if source is None:
        raise IndexBackendError(f"No local folder for the model '{base}'; set index.model")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from model2vec.distill import distill

    if threads:
        torch.set_num_threads(threads)
    target = models_dir() / static_name(base)
    scratch = target.with_name(target.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # transformers' own deprecations on load
            model = distill(str(source), pca_dims=pca_dims, device="cpu",
                            token_remove_pattern=remove_tokens or None)
    except (OSError, ValueError, RuntimeError) as e:
        raise IndexBackendError(f"Distilling a static model from '{base}' failed: {e}") from e
    model.save_pretrained(str(scratch))
    write_provenance(scratch, kind="static", base_model=base, method="model2vec.distill",
                     pca_dims=pca_dims, remove_tokens=remove_tokens,
                     vocabulary=int(model.embedding.shape[0]), dim=int(model.dim))
    shutil.rmtree(target, ignore_errors=True)
    scratch.replace(target)
    return target
