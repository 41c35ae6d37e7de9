"""Query-encoder backends for the packaged MiniLM: numpy BERT vs ONNX Runtime vs torch.

    .venv/bin/python bench/embedder_backends.py [--n 2000] [--onnx DIR]

Issue 18 asked to replace the numpy BERT (`index/numpy_bert.py`, formerly `fastembed.py`)
with onnxruntime unless numpy is measurably faster at cold start with identical vectors.
Measured here, in one run:

- cold start: a fresh `python -c` that imports the backend, loads the model and embeds one
  query (median of 3 processes per backend, interleaved);
- agreement: cosine of each backend's vector to sentence-transformers' on `--n` real passages
  of ../shared/corpus/posts.jsonl.gz as `tracker index` embeds them (title + passage);
- speed: passages/s of each backend on those passages, one at a time (as queries are).

The ONNX file is exported locally from the packaged weights with torch.onnx.export
(dynamo=False) into `--onnx` (default a temporary folder); nothing is downloaded.
A 2-thread matmul probe (GFLOP/s) is printed next to each timing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.adapt_gain import load_store  # noqa: E402
from bench.search_speed import probe  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
QUERY = "an argument that reward is not the optimisation target"


def export_onnx(folder: Path) -> Path:
    """The packaged model's transformer as ONNX (last hidden state), exported here."""
    import torch
    from transformers import AutoModel

    from tracker.index.embedder import model_path

    target = folder / "model.onnx"
    if target.exists():
        return target
    bert = AutoModel.from_pretrained(str(model_path(MODEL))).eval()

    class Encoder(torch.nn.Module):
        """Keyword arguments in, the last hidden state out (BertModel's positional order
        changed across transformers releases)."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert  # a submodule: its weights export as initialisers

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((1, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            Encoder().eval(), (ids, ids, torch.zeros_like(ids)), str(target), dynamo=False,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"], opset_version=17,
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                          "last_hidden_state": axes})
    return target


class OnnxMiniLM:
    """tokenizers → ONNX Runtime → masked mean → L2 norm (one text at a time)."""

    def __init__(self, onnx_file: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from tracker.index.embedder import model_path

        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(onnx_file), options,
                                            providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(model_path(MODEL) / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(256)

    def embed(self, text: str) -> np.ndarray:
        """One text's vector."""
        enc = self.tokenizer.encode(text)
        ids = np.asarray([enc.ids], dtype=np.int64)
        mask = np.ones_like(ids)
        (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                            "token_type_ids": np.zeros_like(ids)})
        pooled = hidden[0].mean(axis=0)
        return (pooled / np.linalg.norm(pooled)).astype(np.float32)


_COLD = {
    "numpy": "from tracker.index.numpy_bert import NumpyBert as E; "
             "E('all-MiniLM-L6-v2').embed_query(Q)",
    "onnx": "import sys; sys.path.insert(0, R); from bench.embedder_backends import OnnxMiniLM; "
            "from pathlib import Path; OnnxMiniLM(Path(F)).embed(Q)",
    "torch": "from tracker.index.embedder import SentenceTransformerEmbedder as E; "
             "E('all-MiniLM-L6-v2').embed_query(Q)",
}


def cold_start(onnx_file: Path, reps: int = 3) -> dict[str, list[float]]:
    """Seconds from process start to the first query vector, per backend."""
    times: dict[str, list[float]] = {name: [] for name in _COLD}
    for _ in range(reps):
        for name, code in _COLD.items():
            prelude = f"R={str(REPO)!r}; F={str(onnx_file)!r}; Q={QUERY!r}; "
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", prelude + code], check=True,
                           env={"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2",
                                "PATH": "/usr/bin:/bin"})
            times[name].append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--onnx", type=Path, default=None)
    args = parser.parse_args()
    from tracker.index.chunk import embedding_text
    from tracker.index.embedder import SentenceTransformerEmbedder
    from tracker.index.numpy_bert import NumpyBert

    folder = args.onnx or Path(tempfile.mkdtemp(prefix="onnx-"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    onnx_file = export_onnx(folder)
    print(f"ONNX export: {time.perf_counter() - started:.1f} s, "
          f"{onnx_file.stat().st_size / 2**20:.0f} MiB")
    print(f"probe {probe():.0f} GFLOP/s")
    for name, values in cold_start(onnx_file).items():
        print(f"cold start {name:6s} median {statistics.median(values):.2f} s "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    print(f"probe {probe():.0f} GFLOP/s")
    _, passages = load_store(args.n, 1, seed=1)
    texts = [embedding_text(p["title"], p["text"]) for p in passages][: args.n]
    reference = SentenceTransformerEmbedder(MODEL, threads=2).embed_batch(texts)
    numpy_bert, onnx = NumpyBert(MODEL), OnnxMiniLM(onnx_file)
    for name, embed in (("numpy", lambda t: numpy_bert.embed_batch([t])[0]),
                        ("onnx", onnx.embed)):
        before = probe()
        started = time.perf_counter()
        vectors = np.stack([embed(t) for t in texts])
        seconds = time.perf_counter() - started
        cos = np.sum(vectors * reference, axis=1)
        print(f"{name:6s} {len(texts)} passages: cos to torch min {cos.min():.6f} mean "
              f"{cos.mean():.6f}; {len(texts) / seconds:.1f} passages/s one at a time; "
              f"probe {before:.0f} / {probe():.0f} GFLOP/s")


if __name__ == "__main__":
    main()
