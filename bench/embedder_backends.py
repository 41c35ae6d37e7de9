"""Query-encoder backends for the packaged MiniLM: ONNX Runtime (the query encoder) vs torch.

    .venv/bin/python bench/embedder_backends.py [--n 2000] [--speed-n 200] [--onnx DIR]

Issue 18 replaced the numpy BERT (formerly `index/fastembed.py`, then `numpy_bert.py`) with
ONNX Runtime (`index/onnx_embedder.py`): it started as fast (1.92 vs 1.91 s) and ran 4.3x
faster per passage. Measured here, in one run:

- cold start: a fresh `python -c` that imports the backend, loads the model and embeds one
  query (median of 3 processes per backend, interleaved);
- agreement: cosine of ONNX Runtime's vector to sentence-transformers' on `--n` real passages
  of ../shared/corpus/posts.jsonl.gz as `tracker index` embeds them (title + passage);
- speed: passages/s of each backend on the first `--speed-n`, one at a time (as queries are).

The ONNX file is exported locally from the packaged weights by `export_onnx` (what
`tracker index` does) into `--onnx` (default a temporary folder); nothing is downloaded.
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


_COLD = {
    "onnx": "from tracker.index.onnx_embedder import OnnxEmbedder as E; from pathlib import Path; "
            "E('all-MiniLM-L6-v2', Path(F)).embed_query(Q)",
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
    parser.add_argument("--speed-n", type=int, default=200)
    parser.add_argument("--onnx", type=Path, default=None)
    args = parser.parse_args()
    from tracker.index.chunk import embedding_text
    from tracker.index.embedder import SentenceTransformerEmbedder
    from tracker.index.onnx_embedder import OnnxEmbedder, export_onnx

    folder = args.onnx or Path(tempfile.mkdtemp(prefix="onnx-"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    onnx_file = folder / "model.onnx"
    if not onnx_file.exists():
        export_onnx(MODEL, folder)
    print(f"ONNX export: {time.perf_counter() - started:.1f} s, "
          f"{onnx_file.stat().st_size / 2**20:.0f} MiB")
    print(f"probe {probe():.0f} GFLOP/s")
    for name, values in cold_start(onnx_file).items():
        print(f"cold start {name:6s} median {statistics.median(values):.2f} s "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    print(f"probe {probe():.0f} GFLOP/s")
    _, passages = load_store(args.n, 1, seed=1)
    texts = [embedding_text(p["title"], p["text"]) for p in passages][: args.n]
    torch_model = SentenceTransformerEmbedder(MODEL, threads=2)
    started = time.perf_counter()
    reference = torch_model.embed_batch(texts)
    print(f"torch  {len(texts)} passages in batches of 32: "
          f"{len(texts) / (time.perf_counter() - started):.1f} passages/s")
    onnx = OnnxEmbedder(MODEL, onnx_file, threads=2)
    started = time.perf_counter()
    vectors = np.concatenate([onnx.embed_batch(texts[i:i + 32])
                              for i in range(0, len(texts), 32)])
    cos = np.sum(vectors * reference, axis=1)
    print(f"onnx   {len(texts)} passages in batches of 32: cos to torch min {cos.min():.6f} "
          f"mean {cos.mean():.6f}; {len(texts) / (time.perf_counter() - started):.1f} passages/s")
    few = texts[: args.speed_n]
    for name, model in (("torch", torch_model), ("onnx", onnx)):
        before = probe()
        started = time.perf_counter()
        for text in few:
            model.embed_query(text)
        seconds = time.perf_counter() - started
        print(f"{name:6s} {len(few)} passages one at a time: {len(few) / seconds:.1f} "
              f"passages/s; probe {before:.0f} / {probe():.0f} GFLOP/s")


if __name__ == "__main__":
    main()
