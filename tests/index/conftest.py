"""Index fixtures: a deterministic hashing embedder, documents, and a searcher per backend."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from tracker import store
from tracker.config import Settings, load_settings
from tracker.index.backends import open_keyword_index, open_vector_index
from tracker.index.base import Embedder, Vectors
from tracker.index.catalog import Catalog
from tracker.index.hybrid import HybridSearcher
from tracker.index.query import words
from tracker.models import AuthorCreate, DocumentCreate
from tracker.search.indexing import IndexReport, index_documents
from tracker.store.engine import session_scope


class HashEmbedder(Embedder):
    """Bag of hashed words and word pairs: texts sharing words get similar vectors."""

    def __init__(self, dim: int = 64, name: str = "test-hash-64") -> None:
        self.name, self.dim = name, dim
        self.calls = 0

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = words(text)
            for feature in tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                out[row, digest[0] % self.dim] += 1.0 if digest[1] % 2 else -1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        return out


T0 = datetime(2020, 1, 1, tzinfo=UTC)


def doc(native_id: str, title: str, body: str, *, author: str = "Ada Lovelace",
        source: str = "lesswrong", kind: str = "post", posted: datetime = T0,
        score: float = 10.0, tags: Sequence[str] = (), af: bool = False,
        post_id: str | None = None, deleted: bool = False) -> DocumentCreate:
    """A document as a source would yield it."""
    slug = author.lower().replace(" ", "_")
    return DocumentCreate(
        source=source, native_id=native_id, kind=kind, title=title, body_text=body,
        url=f"https://example.org/{native_id}", posted_at=posted, score=score, af=af,
        authors=[AuthorCreate(name=author, slug=slug)], tags=list(tags), post_id=post_id,
        deleted=deleted,
    )


def put(engine: Engine, *docs: DocumentCreate) -> None:
    """Upsert documents through the store."""
    with session_scope(engine) as session:
        store.upsert_documents(session=session, documents=list(docs))


def settings(**index: object) -> Settings:
    """Settings with index overrides (checkpoint after every group by default)."""
    base = load_settings()
    values = {"checkpoint_seconds": 0.0, "group_size": 8, **index}
    return base.model_copy(update={"index": base.index.model_copy(update=values)})


def run_index(engine: Engine, embedder: Embedder, **index: object) -> IndexReport:
    """`tracker index` as a job, with a given embedder."""
    return index_documents(engine, settings(**index), embedder=embedder)


def searcher(engine: Engine, embedder: Embedder) -> HybridSearcher:
    """A hybrid searcher over what is indexed, as `tracker search` opens it."""
    vectors = open_vector_index(engine, embedder.name, None, writable=False)
    return HybridSearcher(Catalog(engine), open_keyword_index(engine), vectors, embedder)


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


def corpus_slice(shared: Path, n: int) -> list[DocumentCreate]:
    """The first `n` sample posts with a body, as the forum source would store them."""
    from tracker.ingest.html import html_to_text

    found = []
    with open(shared / "corpus" / "sample" / "posts_sample.jsonl", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if not row.get("body_html") or row["forum"] not in ("lesswrong", "alignmentforum"):
                continue
            found.append(DocumentCreate(
                source="lesswrong", native_id=row["id"], kind="post", title=row["title"],
                url=row["url"], body_html=row["body_html"],
                body_text=html_to_text(row["body_html"]),
                posted_at=datetime.fromisoformat(row["posted_at"].replace("Z", "+00:00")),
                score=row.get("score"), af=row["forum"] == "alignmentforum" or row.get("af"),
                authors=[AuthorCreate(name=row["author"] or "unknown",
                                      slug=row.get("author_slug"))],
            ))
            if len(found) >= n:
                break
    return found


@pytest.fixture(scope="session")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged MiniLM exported to ONNX once per session (~30 s; torch and onnx)."""
    from tracker.index.onnx_embedder import export_onnx

    return export_onnx("all-MiniLM-L6-v2", tmp_path_factory.mktemp("onnx") / "onnx-model")


def link_onnx(onnx_model: Path) -> Path:
    """Put the session's export where this test's data directory looks for it."""
    from tracker.index.onnx_embedder import onnx_folder

    folder = onnx_folder("all-MiniLM-L6-v2")
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(onnx_model.parent, target_is_directory=True)
    return folder
