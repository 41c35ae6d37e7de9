"""Messages screens and widgets post to each other."""

from __future__ import annotations

from textual.message import Message


class OpenDocument(Message):
    """Open a document in the reader (from a result, a citation, a claim's argument), scrolled
    to offset `at` of its body when given."""

    def __init__(self, document_id: int, at: int | None = None) -> None:
        super().__init__()
        self.document_id = document_id
        self.at = at


class Tagged(Message):
    """A passage was linked to a claim (the reader re-marks its text, claims refresh)."""

    def __init__(self, document_id: int, link_id: int) -> None:
        super().__init__()
        self.document_id = document_id
        self.link_id = link_id
