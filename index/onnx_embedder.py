"""The packaged MiniLM on ONNX Runtime: the query encoder that needs no torch.

Importing torch and sentence-transformers costs ~6-9 s on this class of machine, which would
make every `tracker search` slow to start. `tracker index` (which loads torch anyway) exports
the packaged model once with torch's TorchScript exporter into
`<data>/models/onnx-<model>/model.onnx` (~30 s, 87 MiB, with `provenance.json` written last);
queries then run tokenizers → ONNX Runtime → masked mean → L2 norm. The vectors carry the
source model's name: they equal sentence-transformers' (cos 1.000000 on 2,000 real passages,
bench/embedder_backends.py), so both fill and search the same vector index. ORT replaced a
numpy BERT that started as fast (1.92 vs 1.91 s) but embedded 4.3x slower. Nothing downloads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tracker import paths
from tracker.errors import IndexBackendError

from .base import Embedder, Vectors
from .embedder import model_path, packaged_source
from .local_models import read_provenance, write_provenance

ONNX_PREFIX = "onnx-"
ONNX_FILE = "model.onnx"
_OPSET = 17


def onnx_folder(model: str) -> Path:
    """Where the ONNX export of `model` lives (it may not exist)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model).name)
    return paths.data_dir() / "models" / (ONNX_PREFIX + safe)


def exportable(model: str) -> bool:
    """Whether `model` is the packaged one, which this module knows how to export and run."""
    return packaged_source(model) is not None


def onnx_export(model: str) -> Path | None:
    """The complete ONNX file of `model` (provenance written, same source model), else None."""
    folder = onnx_folder(model)
    file = folder / ONNX_FILE
    base = str(read_provenance(folder).get("base", ""))
    # The same packaged weights go by two names (with and without `sentence-transformers/`).
    if not file.is_file() or packaged_source(base) != packaged_source(model) or not base:
        return None
    return file


def export_onnx(model: str, folder: Path | None = None) -> Path:
    """Export the packaged `model`'s transformer to `<folder>/model.onnx` (torch: ~30 s).

    Raises:
        IndexBackendError: the model is not a packaged one, or torch could not export it.
    """
    if not exportable(model):
        raise IndexBackendError(f"Only the packaged model can be exported to ONNX, not '{model}'")
    folder = folder or onnx_folder(model)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "provenance.json").unlink(missing_ok=True)  # incomplete until written again
    partial = folder / (ONNX_FILE + ".partial")
    try:
        _torch_export(model_path(model), partial)
    except (RuntimeError, OSError, ValueError, ImportError) as e:
        partial.unlink(missing_ok=True)
        raise IndexBackendError(f"Cannot export '{model}' to ONNX in {folder} "
                                f"({e.__class__.__name__}: {str(e)[:200]})") from e
    target = partial.replace(folder / ONNX_FILE)
    write_provenance(folder, base=model, kind="onnx", opset=_OPSET,
                     bytes=target.stat().st_size)
    return target


def _torch_export(source: Path | None, target: Path) -> None:
    """torch.onnx.export of a BertModel: keyword inputs in, last hidden state out."""
    import os
    import warnings

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(source)).eval()

    class Encoder(torch.nn.Module):
        """BertModel's positional argument order changed across transformers releases."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert  # a submodule: its weights export as initialisers

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((1, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter warns that it is deprecated; dynamo=True needs onnxscript.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder().eval(), (ids, ids, torch.zeros_like(ids)), str(target), dynamo=False,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"], opset_version=_OPSET,
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                          "last_hidden_state": axes})


class OnnxEmbedder(Embedder):
    """The packaged MiniLM on ONNX Runtime (mean pooling, L2 norm); same name as the model."""

    def __init__(self, model: str, file: Path | None = None, *, threads: int | None = None
                 ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        file = file or onnx_export(model)
        folder = model_path(model)
        if file is None or folder is None:
            raise IndexBackendError(f"No ONNX export of '{model}'; run `tracker index` to make it")
        self.name = model
        settings = json.loads((folder / "sentence_bert_config.json").read_text())
        self.dim = int(json.loads((folder / "config.json").read_text())["hidden_size"])
        options = ort.SessionOptions()
        # One thread: a query is ~10 word pieces, too little work to share, and the search runs
        # it beside the keyword lists (tracker.index.hybrid). On the shared 2-core machine two
        # threads took 39 ms a query against 19 ms for one (same vectors, bit for bit).
        options.intra_op_num_threads = threads or 1
        options.log_severity_level = 4  # ORT's own log goes to stderr; errors come as raises
        try:
            self._session = ort.InferenceSession(str(file), options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as e:  # ORT raises pybind classes (InvalidProtobuf, Fail, ...)
            raise IndexBackendError(
                f"The ONNX query encoder {file} cannot be loaded ({e.__class__.__name__}); "
                f"delete {file.parent} and run `tracker index` to export it again") from e
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(int(settings.get("max_seq_length", 256)))
        self._tokenizer.enable_padding()

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        """Embed texts, padded to the longest in each call; mean over real tokens only."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoded = self._tokenizer.encode_batch(list(texts))
        ids = np.asarray([e.ids for e in encoded], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encoded], dtype=np.int64)
        try:
            (hidden,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                                 "token_type_ids": np.zeros_like(ids)})
        except Exception as e:  # same pybind classes as at load time
            raise IndexBackendError(f"The ONNX query encoder failed ({e.__class__.__name__}: "
                                    f"{str(e)[:200]})") from e
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(pooled / norms, dtype=np.float32)
