"""A BERT sentence encoder (all-MiniLM-L6-v2) in plain numpy, for queries without torch.

Importing torch and sentence-transformers costs ~6-9 s on this class of machine, which would
make every `tracker search` slow to start; this reads the same safetensors weights and the
same tokenizer and runs the 6-layer BERT encoder with mean pooling in numpy (~5-20 ms for a
query). tests/index/test_real_model.py checks that its vectors equal sentence-transformers'
(cosine > 0.9999). Only BERT models with mean pooling are supported (`supports`); that
includes models made by `tracker model adapt`.

Against ONNX Runtime (bench/embedder_backends.py, 200 real passages, loaded 2-core box):
cold start to the first query vector 1.92 s here vs 1.91 s (a tie), both cos 1.000000 to
torch, but ORT ran 3.9 passages/s one at a time against 0.9 here. By issue 18's rule that
makes ORT the replacement; it needs an ONNX export into the data directory first (32.6 s
with torch and the `onnx` package), which is not wired in yet.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from tracker.errors import IndexBackendError

from .base import Embedder, Vectors
from .embedder import model_path

_EPS = 1e-12


def supports(model: str) -> bool:
    """Whether `model` is a local BERT with mean pooling that this encoder can run."""
    try:
        path = model_path(model)
    except IndexBackendError:
        return False
    if path is None or not (path / "model.safetensors").exists():
        return False
    try:
        config = json.loads((path / "config.json").read_text())
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
            and pooling.get("pooling_mode_mean_tokens") is True
            and not pooling.get("pooling_mode_cls_token"))


class NumpyBert(Embedder):
    """A BERT sentence encoder (mean pooling, L2 norm) in numpy; same name as the model."""

    def __init__(self, model: str) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = model_path(model)
        if path is None:
            raise IndexBackendError(f"No local folder for the model '{model}'")
        self.name = model
        config = json.loads((path / "config.json").read_text())
        settings = json.loads((path / "sentence_bert_config.json").read_text())
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._eps = float(config.get("layer_norm_eps", 1e-12))
        self._w: dict[str, Any] = load_file(str(path / "model.safetensors"))
        self.dim = int(config["hidden_size"])
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(int(settings.get("max_seq_length", 256)))

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        """Embed each text on its own (queries are few; no padding needed)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._embed(text)
        return out

    def _embed(self, text: str) -> Vectors:
        encoding = self._tokenizer.encode(text)
        ids = np.asarray(encoding.ids, dtype=np.int64)
        types = np.asarray(encoding.type_ids, dtype=np.int64)
        w = self._w
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][: len(ids)]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = self._norm(x, "embeddings.LayerNorm")
        for layer in range(self._layers):
            x = self._layer(x, f"encoder.layer.{layer}.")
        pooled = x.mean(axis=0)
        vector: Vectors = (pooled / max(float(np.linalg.norm(pooled)), _EPS)).astype(np.float32)
        return vector

    def _layer(self, x: Vectors, prefix: str) -> Vectors:
        attention = self._attention(x, prefix + "attention.self.")
        x = self._norm(x + self._dense(attention, prefix + "attention.output.dense"),
                       prefix + "attention.output.LayerNorm")
        hidden = _gelu(self._dense(x, prefix + "intermediate.dense"))
        return self._norm(x + self._dense(hidden, prefix + "output.dense"),
                          prefix + "output.LayerNorm")

    def _attention(self, x: Vectors, prefix: str) -> Vectors:
        n, width = x.shape
        size = width // self._heads

        def heads(name: str) -> Vectors:
            projected: Vectors = self._dense(x, prefix + name)
            return projected.reshape(n, self._heads, size).transpose(1, 0, 2)

        q, k, v = heads("query"), heads("key"), heads("value")
        scores = q @ k.transpose(0, 2, 1) / float(np.sqrt(size))
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context: Vectors = (scores @ v).transpose(1, 0, 2).reshape(n, width)
        return context

    def _dense(self, x: Vectors, name: str) -> Vectors:
        # (W @ xᵀ)ᵀ, not x @ Wᵀ: for a few dozen tokens OpenBLAS ran the latter 10-30× slower
        # here (5-15 ms against 0.3-0.5 ms per 384×1536 layer).
        result: Vectors = (self._w[name + ".weight"] @ x.T).T + self._w[name + ".bias"]
        return result

    def _norm(self, x: Vectors, name: str) -> Vectors:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        normed: Vectors = (x - mean) / np.sqrt(var + self._eps)
        scaled: Vectors = normed * self._w[name + ".weight"] + self._w[name + ".bias"]
        return scaled


def _gelu(x: Vectors) -> Vectors:
    """Exact GELU, x·Φ(x), with erf by Abramowitz & Stegun 7.1.26 (error < 1.5e-7)."""
    z = x / np.sqrt(2.0)
    sign = np.sign(z)
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                         + t * 1.061405429))))
    erf = sign * (1.0 - poly * np.exp(-a * a))
    result: Vectors = (0.5 * x * (1.0 + erf)).astype(np.float32)
    return result

