"""The ONNX Runtime query encoder: the same vectors as sentence-transformers on real passages,
exported by `tracker index`, used by `tracker search` without torch, and a corrupt export."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from tests.conftest import REPO
from tests.index.conftest import corpus_slice, put
from tracker.cli import cli
from tracker.config import load_settings
from tracker.index.chunk import embedding_text, split_passages
from tracker.index.onnx_embedder import OnnxEmbedder, onnx_export, onnx_folder
from tracker.index.query import words
from tracker.store.engine import make_engine

MODEL = "all-MiniLM-L6-v2"


def real_passages(shared: Path, n: int) -> list[str]:
    """The first `n` passages of real posts, as `tracker index` embeds them."""
    texts: list[str] = []
    for doc in corpus_slice(shared, 400):
        for span in split_passages(doc.body_text):
            texts.append(embedding_text(doc.title, doc.body_text[span.start:span.end]))
    assert len(texts) >= n
    return texts[:n]


def test_onnx_vectors_equal_sentence_transformers(shared: Path, onnx_model: Path) -> None:
    from tracker.index.embedder import SentenceTransformerEmbedder

    texts = real_passages(shared, 200) + ["", "日本語 🙂", "RL " * 600]
    expected = SentenceTransformerEmbedder(MODEL, batch_size=32).embed_batch(texts)
    onnx = OnnxEmbedder(MODEL, onnx_model)
    assert onnx.name == MODEL and onnx.dim == 384
    # Batches pad to the longest text: padding must not move the mean.
    got = np.concatenate([onnx.embed_batch(texts[i:i + 32]) for i in range(0, len(texts), 32)])
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert float((got * expected).sum(axis=1).min()) >= 0.9999
    alone = onnx.embed_query(texts[5])
    assert float(alone @ expected[5]) >= 0.9999


def tracker(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# Runs the CLI in a fresh interpreter and says afterwards whether torch was ever imported.
_PROBE = ("import atexit, sys; atexit.register(lambda: sys.stderr.write("
          "'TORCH=%s\\n' % ('torch' in sys.modules))); from tracker.cli import cli; cli()")


def test_index_exports_and_search_runs_without_torch(shared: Path) -> None:
    posts = [d for d in corpus_slice(shared, 120) if 40 < len(words(d.body_text)) < 450][:6]
    engine = make_engine(load_settings().sqlalchemy_url)
    try:
        put(engine, *posts)
    finally:
        engine.dispose()
    code, out, err = tracker("index", "--limit", "0")  # no embedding, no torch: no export
    assert code == 0 and onnx_export(MODEL) is None, err
    code, out, err = tracker("index")
    assert code == 0, err
    assert "exported all-MiniLM-L6-v2 to ONNX" in out and "exporting the query" in err
    assert onnx_export(MODEL) is not None
    code, out, _ = tracker("index")
    assert code == 0 and "ONNX" not in out  # once per data directory

    target = posts[2]
    query = " ".join(words(target.body_text)[:40][::-1])
    done = subprocess.run([sys.executable, "-c", _PROBE, "search", query, "--json", "--limit",
                           "3"], cwd=REPO, env=dict(os.environ), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "TORCH=False" in done.stderr
    top = json.loads(done.stdout)["results"][0]
    assert top["document"]["native_id"] == target.native_id
    assert top["matched"]["vector_rank"] is not None

    # A corrupt export: one line naming the file and the fix, then the search still answers.
    (onnx_folder(MODEL) / "model.onnx").write_bytes(b"not a model")
    code, out, err = tracker("search", query, "--json", "--limit", "3")
    assert code == 0, err
    lines = [line for line in err.splitlines() if "ONNX" in line]
    assert len(lines) == 1 and "Traceback" not in err
    assert "model.onnx cannot be loaded" in lines[0] and "run `tracker index`" in lines[0]
    assert json.loads(out)["results"][0]["document"]["native_id"] == target.native_id
    # The fix the line names: with nothing left to embed, `tracker index` exports it again.
    shutil.rmtree(onnx_folder(MODEL))
    code, out, err = tracker("index")
    assert code == 0 and "0 embedded" in out and "exported all-MiniLM-L6-v2 to ONNX" in out, err
