"""Property tests of the query parser: any string gives clean words and valid FTS5 syntax."""

from __future__ import annotations

import sqlite3
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.index.query import MAX_TERMS, fts5_match, highlight_spans, keyword_terms, words

# Any text, weighted towards what breaks full-text syntax.
SYNTAX = st.sampled_from(['"', "*", "NEAR(", "AND", "OR", "NOT", ":", "^", "(", ")", "-", "+",
                          "\x00", "\x1b[31m", "🙂", "安全性", "\u202e", "col:", "'"])
QUERIES = st.lists(st.one_of(st.text(), SYNTAX), max_size=20).map("".join)

_TABLE = sqlite3.connect(":memory:", check_same_thread=False)
_TABLE.execute("CREATE VIRTUAL TABLE t USING fts5(title, authors, text, "
               "tokenize='porter unicode61 remove_diacritics 2')")
_TABLE.execute("INSERT INTO t VALUES ('Goodhart', 'Scott', 'proxies break under pressure')")


def _clean(word: str) -> bool:
    return bool(word) and not any(unicodedata.category(c).startswith(("C", "Z")) for c in word)


@settings(max_examples=300, deadline=None)
@given(QUERIES)
def test_terms_are_clean_words(query: str) -> None:
    terms = keyword_terms(query)
    assert len(terms) <= MAX_TERMS and len(set(terms)) == len(terms)
    assert all(_clean(t) and t == t.lower() for t in terms)
    assert all(_clean(w) for w in words(query))


@settings(max_examples=300, deadline=None)
@given(QUERIES)
def test_fts5_accepts_every_expression(query: str) -> None:
    terms = keyword_terms(query)
    if not terms:
        return  # the index answers no terms with no hits, without asking FTS5
    rows = _TABLE.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts5_match(terms),))
    assert rows.fetchall() in ([], [(1,)])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), QUERIES)
def test_highlights_are_words_of_the_text(text: str, query: str) -> None:
    spans = highlight_spans(text, query)
    assert all(0 <= s < e <= len(text) and _clean(text[s:e]) for s, e in spans)
    assert spans == sorted(spans)
