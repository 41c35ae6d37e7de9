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
    # One fields-set per model, shared: nothing in an import adds a field to a document.
    doc_set, author_set, link_set = set(_FIELDS), {"name", "slug"}, set(_LINK_FIELDS)
    for row in packed:
        values = dict(zip(_FIELDS, row, strict=True))
        values["authors"] = [_restored(AuthorCreate, {"name": name, "slug": slug}, author_set)
                             for name, slug in values["authors"]]
        values["links"] = [_restored(LinkCreate, dict(zip(_LINK_FIELDS, link, strict=True)),
                                     link_set) for link in values["links"]]
        documents.append(_restored(DocumentCreate, values, doc_set))
    return documents


_new = object.__new__
_set = object.__setattr__


def _restored(model: type[_M], values: dict[str, Any], fields_set: set[str]) -> _M:
    """A model from values it held before, set the way unpickling does (pydantic's
    `__setstate__`) but without its method call, state dict and SQLModel's `__new__` (which
    initialises private attributes these models do not have): for 2,000 posts ~0.02 s, where
    `__setstate__` took ~0.045 s, `model_construct` ~0.08 s and validating again 0.08-0.15 s."""
    instance: _M = _new(model)
    _set(instance, "__pydantic_fields_set__", fields_set)
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    _set(instance, "__dict__", values)
    return instance
