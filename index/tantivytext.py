"""What the tracker's tantivy indexes share: how they read text (the same words as SQLite
FTS5's tokenizer sees), and how a folder is checked, opened, created and written."""

from __future__ import annotations

import shutil
from pathlib import Path
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


def holds_index(folder: Path, fmt: str) -> bool:
    """Whether `folder` holds a committed tantivy index of the tracker's format `fmt`."""
    marker = folder / "tracker-format"
    return (folder / "meta.json").exists() and marker.exists() \
        and marker.read_text().strip() == fmt


def open_index(folder: Path, fmt: str, what: str) -> Any:
    """The tantivy index in `folder`, its analyzer registered, at its latest commit.

    Raises:
        IndexBackendError: the folder is missing, of another format, or unreadable (`what`
            names the index in the message: "keyword index", "document index").
    """
    import tantivy

    if not holds_index(folder, fmt):
        raise IndexBackendError(f"No {what} at {folder}; run `tracker index`")
    try:
        index = tantivy.Index.open(str(folder))
        index.register_tokenizer(ANALYZER, analyzer())
        index.reload()
    except (ValueError, OSError, RuntimeError) as e:
        raise IndexBackendError(
            f"Cannot read the {what} {folder} ({e}); run `tracker doctor --repair` or "
            f"`tracker index`, which rebuild it from the store") from e
    return index


def create_index(folder: Path, schema: Any, fmt: str) -> Any:
    """An empty tantivy index of `schema` in a fresh `folder` (whatever was there is removed)."""
    import tantivy

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    index = tantivy.Index(schema, path=str(folder))
    index.register_tokenizer(ANALYZER, analyzer())
    (folder / "tracker-format").write_text(fmt + "\n")
    return index


def latest_searcher(index: Any) -> Any:
    """A searcher over the latest commit: an index run in another thread or process (the TUI's
    background run, `tracker index` beside `tracker api`) commits while this one is open;
    reloading only reads the folder's meta file."""
    index.reload()
    return index.searcher()
