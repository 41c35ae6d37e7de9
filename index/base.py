"""The interfaces of the search index: an `Embedder`, a `VectorIndex` and a `KeywordIndex`.

Keys are passage ids (`tracker.models.Passage.id`). Passage rows are immutable and their ids
are never reused, so a key always names one text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from tracker.models import DEFAULT_READER

if TYPE_CHECKING:
    from sqlalchemy import Select, Subquery

Vectors = NDArray[np.float32]


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on what a search returns; an empty field means no restriction.

    `sources` takes source names (`lesswrong`, `eaforum`, `arxiv`, a feed name) and
    `alignmentforum`, which means documents on the Alignment Forum (`af`). `authors` match a
    name or forum slug, case-insensitively, anywhere in it. `since`/`until` bound `posted_at`
    (inclusive / exclusive). `min_score` is the forum karma. `tags` are tag names: forum
    tags and `reader`'s own.
    """

    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = None
    tags: tuple[str, ...] = ()
    document_ids: tuple[int, ...] = field(default=())
    """Only these documents (used to search within one author's work)."""
    reader: str = DEFAULT_READER
    """Whose own tags `tags` match besides the forum's (a user tag belongs to one reader)."""

    def is_empty(self) -> bool:
        """Whether nothing is restricted (deleted documents and copies are always left out)."""
        return not (self.sources or self.kinds or self.authors or self.tags or self.document_ids
                    or self.since or self.until or self.min_score is not None)


@dataclass(frozen=True)
class Hit:
    """A passage that one retrieval method found, with that method's score."""

    passage_id: int
    document_id: int
    score: float


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    """Identifies the model; vectors of different names are never mixed."""
    dim: int
    """Dimension of every vector."""

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        """Embed texts.

        Args:
            texts: any number of strings, possibly empty ones.

        Returns:
            An array of shape `(len(texts), dim)`, float32, each row of unit length.

        Raises:
            IndexBackendError: the model could not be loaded or run.
        """

    def embed_query(self, text: str) -> Vectors:
        """The vector of one search query, shape `(dim,)`."""
        vectors: Vectors = self.embed_batch([text])[0]
        return vectors


class VectorIndex(ABC):
    """Vectors of one model, keyed by passage id, searched by cosine similarity."""

    model: str
    dim: int

    @abstractmethod
    def add(self, keys: Sequence[int], vectors: Vectors) -> None:
        """Store vectors; a key already present is replaced.

        Args:
            keys: passage ids.
            vectors: shape `(len(keys), dim)`, unit length.

        Raises:
            IndexBackendError: wrong dimension, or the index is open read-only.
        """

    @abstractmethod
    def remove(self, keys: Iterable[int]) -> int:
        """Drop vectors; unknown keys are ignored.

        Returns:
            How many vectors were removed.
        """

    @abstractmethod
    def search(
        self, vector: Vectors, k: int, *, among: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """The `k` nearest keys to `vector`, most similar first.

        Args:
            vector: shape `(dim,)`, unit length.
            k: how many to return at most.
            among: search only these keys (exactly), e.g. those that pass the filters.

        Returns:
            `(key, cosine similarity)` pairs.
        """

    @abstractmethod
    def get(self, keys: Sequence[int]) -> dict[int, Vectors]:
        """The stored vectors of those keys that are present."""

    @abstractmethod
    def keys(self) -> set[int]:
        """Every key present."""

    @abstractmethod
    def count(self) -> int:
        """How many vectors are stored."""

    def is_empty(self) -> bool:
        """Whether no vector is stored (asked on every search: backends make it cheap)."""
        return self.count() == 0

    def search_kept(self, vector: Vectors, k: int,
                    keep: Callable[[Subquery], Select[Any]]) -> list[Hit] | None:
        """The `k` nearest and the store's check of them in one statement, where the vectors
        live in the store's database; None where they do not (the caller checks `search`'s
        pairs itself).

        Args:
            vector: shape `(dim,)`, unit length.
            k: how many nearest to check.
            keep: turns the nearest rows (columns `passage_id`, `distance`) into the statement
                that selects those still stored, as (passage id, document id, distance).
        """
        return None

    def save(self) -> None:  # noqa: B027  (optional: backends that write through do nothing)
        """Make every add and remove so far durable.

        Raises:
            IndexBackendError: the index could not be written.
        """

    def close(self) -> None:  # noqa: B027
        """Release files and connections."""


class KeywordIndex(ABC):
    """Full-text search over the passage table's `title`, `authors` and `text` columns.

    It has no add/remove: the database keeps it in step with the passage table in the same
    transaction (SQLite: FTS5 external content kept by triggers; PostgreSQL: a GIN index on
    the tsvector expression), so it can never drift from the passages, even after a crash.
    """

    @abstractmethod
    def ensure(self) -> None:
        """Create the index structures if missing (idempotent)."""

    @abstractmethod
    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        """The `k` best passages for what a user typed.

        Args:
            query: any text; quotes, operators, `*`, non-Latin scripts and emoji are words or
                nothing, never syntax.
            k: how many to return at most.
            filters: restrictions on the documents.

        Returns:
            Hits, best first; an empty list when no word of the query is indexed.
        """

    def search_documents(self, query: str, k: int,
                         filters: SearchFilters) -> list[tuple[int, float]]:
        """(document id, score) of the `k` best whole documents, best first; engines without
        a document-level index return nothing (the passage list stands alone)."""
        return []

    @abstractmethod
    def count(self) -> int:
        """How many passages are indexed."""
