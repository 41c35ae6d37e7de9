"""How `tracker import`'s parse workers hand documents to the writing process: plain tuples.

A pickled `DocumentCreate` carries pydantic's per-object state for the document, each author
and each link; for a chunk of 2,000 corpus posts (~7,700 links) that is ~0.13 s to pickle in the
worker and ~0.17 s to unpickle in the single writer, which is ~0.02 s and ~0.05 s as tuples.
`model_construct` rebuilds the models without validating again (the worker validated them).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from tracker.models import AuthorCreate, DocumentCreate, LinkCreate

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
    author, link, document = (AuthorCreate.model_construct, LinkCreate.model_construct,
                              DocumentCreate.model_construct)
    return [
        document(**dict(zip(_FIELDS, values, strict=True)),
                 authors=[author(name=name, slug=slug) for name, slug in authors],
                 links=[link(**dict(zip(_LINK_FIELDS, row, strict=True))) for row in links])
        for values, authors, links in packed
    ]
