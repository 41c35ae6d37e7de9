"""How the tantivy indexes read text: the same words as SQLite FTS5's tokenizer sees."""

from __future__ import annotations

from typing import Any

ANALYZER = "tracker"
"""The name the analyzer is registered under in every tantivy index of the tracker."""


def analyzer() -> Any:
    """Words as FTS5's `porter unicode61 remove_diacritics 2` sees them: lower case, accents
    dropped, English (Porter) stems."""
    from tantivy import Filter, TextAnalyzerBuilder, Tokenizer

    return (TextAnalyzerBuilder(Tokenizer.simple()).filter(Filter.remove_long(64))
            .filter(Filter.lowercase()).filter(Filter.ascii_fold())
            .filter(Filter.stemmer("english")).build())
