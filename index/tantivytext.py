"""How the tantivy indexes read text: the same words as SQLite FTS5's tokenizer sees."""

from __future__ import annotations

from typing import Any

from tracker.errors import IndexBackendError, KeywordWriterBusy

ANALYZER = "tracker"
"""The name the analyzer is registered under in every tantivy index of the tracker."""


def analyzer() -> Any:
    """Words as FTS5's `porter unicode61 remove_diacritics 2` sees them: lower case, accents
    dropped, English (Porter) stems."""
    from tantivy import Filter, TextAnalyzerBuilder, Tokenizer

    return (TextAnalyzerBuilder(Tokenizer.simple()).filter(Filter.remove_long(64))
            .filter(Filter.lowercase()).filter(Filter.ascii_fold())
            .filter(Filter.stemmer("english")).build())


def open_writer(index: Any, heap: int) -> Any:
    """A tantivy writer on `index` (one thread: the searcher's process stays responsive).

    Raises:
        KeywordWriterBusy: another writer holds the index's lock (another `tracker index`,
            the TUI's background run, a search catching a replica up).
        IndexBackendError: the writer cannot be opened for another reason.
    """
    try:
        return index.writer(heap_size=heap, num_threads=1)
    except ValueError as e:
        if "LockBusy" in str(e):
            raise KeywordWriterBusy("The keyword index is being written by another process; "
                                    "try again when it finishes") from e
        raise IndexBackendError(f"Cannot open the keyword index for writing: {e}") from e
