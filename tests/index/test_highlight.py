"""Highlights mark exactly the words FTS5's porter tokenizer matched; the row budget counts
words under their porter stems."""

from __future__ import annotations

import sqlite3

from sqlalchemy import Engine

from tests.index.conftest import HashEmbedder, doc, put, run_index
from tracker.index.base import SearchFilters
from tracker.index.catalog import Catalog
from tracker.index.query import highlight_spans, keyword_terms
from tracker.index.sqlite import SqliteKeywordIndex

# Pairs where the old hand-made prefix stems and Porter disagree: "police" shares a prefix with
# "policy" but not a stem; "runs" shares a stem with "running" but not a prefix; likewise
# "argued"/"argument" (argu vs argument) and "universal"/"universe".
TEXT = ("The police runs a policy of running. Argued, argument; universal, universe. "
        "Généralisation and generalising, conditions conditionally.")
QUERIES = ["policy running", "arguments", "universal", "generalisation", "conditional",
           "runs police"]


def fts5_matches(text: str, query: str) -> set[str]:
    """The words of `text` that FTS5 (the tokenizer of index/sqlite.py) matches to `query`."""
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter unicode61 "
                "remove_diacritics 2')")
    words = [w.strip(".,;") for w in text.split()]
    con.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", list(enumerate(words, 1)))
    terms = " OR ".join(f'"{w}"' for w in keyword_terms(query))  # as the index searches
    rows = con.execute("SELECT rowid FROM t WHERE t MATCH ?", (terms,)).fetchall()
    return {words[row - 1].lower() for (row,) in rows}


def test_highlights_are_what_fts5_matched() -> None:
    for query in QUERIES:
        marked = {TEXT[s:e].lower() for s, e in highlight_spans(TEXT, query)}
        assert marked == fts5_matches(TEXT, query), query
    spans = highlight_spans(TEXT, "policy running")
    assert {TEXT[s:e] for s, e in spans} == {"runs", "policy", "running"}


def test_row_budget_counts_words_by_porter_stem(tmp_path) -> None:
    from tracker.store.engine import make_engine

    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'budget.db'}")
    try:
        common = [doc(f"g{i}", f"Note {i}", f"On generalizations of result {i}.")
                  for i in range(30)]
        put(engine, *common, doc("zoo", "Zoo", "A zebra, a quokka and a wombat."))
        run_index(engine, HashEmbedder(), keyword_engine="fts5")  # the row budget is FTS5's
        # "generalization" is stored as "gener" (in 30 passages): with a budget of 5 rows it
        # is the word to drop, and the three rare words find the one post.
        index = SqliteKeywordIndex(engine, row_budget=5)
        hits = index.search("generalization zebra quokka wombat", 50, SearchFilters())
        docs = Catalog(engine).documents(h.document_id for h in hits)
        assert [d.native_id for d in docs.values()] == ["zoo"]
    finally:
        engine.dispose()
