"""How `tracker import`'s parse workers hand documents to the writing process: plain tuples.

A pickled `DocumentCreate` carries pydantic's per-object state for the document, each author
and each link; for a chunk of 2,000 corpus posts (~7,700 links) that is ~0.13 s to pickle in the
worker and ~0.17 s to unpickle in the single writer, which is ~0.02 s and ~0.05 s as tuples.
The writer rebuilds the models without validating again (the worker validated them).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlmodel import SQLModel

from tracker.models import AuthorCreate, DocumentCreate, LinkCreate

_M = TypeVar("_M", bound=SQLModel)
_FIELDS = tuple(DocumentCreate.model_fields)
_AUTHORS, _LINKS = _FIELDS.index("authors"), _FIELDS.index("links")
_LINK_FIELDS = tuple(LinkCreate.model_fields)
_fields = operator.attrgetter(*_FIELDS)
_link_fields = operator.attrgetter(*_LINK_FIELDS)

Packed = tuple[Any, ...]
"""One document: its fields in `DocumentCreate` order, authors as `(name, slug)` and links as
tuples of their fields."""


def pack(documents: Sequence[DocumentCreate]) -> list[Packed]:
    """The documents as tuples of plain values, cheap to pickle."""
    return [_packed(doc) for doc in documents]


def _packed(doc: DocumentCreate) -> Packed:
    values = list(_fields(doc))
    values[_AUTHORS] = tuple((a.name, a.slug) for a in doc.authors)
    values[_LINKS] = tuple(map(_link_fields, doc.links))
    return tuple(values)


def unpack(packed: Sequence[Packed]) -> list[DocumentCreate]:
    """The documents `pack` was given, equal field by field (in field order, so they
    serialise the same too)."""
    documents = []
    for row in packed:
        values = dict(zip(_FIELDS, row, strict=True))
        values["authors"] = [_restored(AuthorCreate, {"name": name, "slug": slug})
                             for name, slug in values["authors"]]
        values["links"] = [_restored(LinkCreate, dict(zip(_LINK_FIELDS, link, strict=True)))
                           for link in values["links"]]
        documents.append(_restored(DocumentCreate, values))
    return documents


def _restored(model: type[_M], values: dict[str, Any]) -> _M:
    """A model from values it held before, the way unpickling restores one (pydantic's
    `__setstate__`): for 2,000 posts ~0.05 s, where `model_construct` takes ~0.08 s (SQLModel
    routes it through its own init) and validating again ~0.08-0.15 s."""
    instance: _M = model.__new__(model)
    instance.__setstate__({"__dict__": values, "__pydantic_fields_set__": set(values),
                           "__pydantic_extra__": None, "__pydantic_private__": None})
    return instance
