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
_NESTED = ("authors", "links")
_FIELDS = tuple(name for name in DocumentCreate.model_fields if name not in _NESTED)
_LINK_FIELDS = tuple(LinkCreate.model_fields)
_fields = operator.attrgetter(*_FIELDS)
_link_fields = operator.attrgetter(*_LINK_FIELDS)

Packed = tuple[tuple[Any, ...], tuple[tuple[str, str | None], ...], tuple[tuple[Any, ...], ...]]
"""One document: its plain fields in `_FIELDS` order, its authors, its links."""


def pack(documents: Sequence[DocumentCreate]) -> list[Packed]:
    """The documents as tuples of plain values, cheap to pickle."""
    return [(_fields(doc), tuple((a.name, a.slug) for a in doc.authors),
             tuple(map(_link_fields, doc.links))) for doc in documents]


def unpack(packed: Sequence[Packed]) -> list[DocumentCreate]:
    """The documents `pack` was given, equal field by field."""
    return [
        _restored(DocumentCreate, {
            **dict(zip(_FIELDS, values, strict=True)),
            "authors": [_restored(AuthorCreate, {"name": name, "slug": slug})
                        for name, slug in authors],
            "links": [_restored(LinkCreate, dict(zip(_LINK_FIELDS, row, strict=True)))
                      for row in links],
        })
        for values, authors, links in packed
    ]


def _restored(model: type[_M], values: dict[str, Any]) -> _M:
    """A model from values it held before, the way unpickling restores one (pydantic's
    `__setstate__`): for 2,000 posts ~0.05 s, where `model_construct` takes ~0.08 s (SQLModel
    routes it through its own init) and validating again ~0.08-0.15 s."""
    instance = model.__new__(model)
    instance.__setstate__({"__dict__": values, "__pydantic_fields_set__": set(values),
                           "__pydantic_extra__": None, "__pydantic_private__": None})
    return instance
