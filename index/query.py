"""What a user typed, turned into words that are safe to hand to any full-text engine.

Nothing of the query reaches FTS5 or PostgreSQL as syntax: only runs of letters and digits
are kept (quotes, `AND(`, `*`, `-`, `NEAR` and emoji are dropped or become plain words), and
each is passed as a quoted string (FTS5) or a bound parameter (PostgreSQL).
"""

from __future__ import annotations

import re
import threading
import unicodedata

import Stemmer

MAX_TERMS = 32
_local = threading.local()
_WORD = re.compile(r"[^\W_]+")
# Function words that match nearly every passage: they only slow OR queries down and blur bm25.
STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren as at be because been before
being below between both but by can cannot could did do does doing don down during each few for
from further had has have having he her here hers herself him himself his how i if in into is
isn it its itself just let me more most my myself no nor not now of off on once only or other
ought our ours ourselves out over own same she should so some such than that the their theirs
them themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves s t
re ve ll d m near post posts article essay argue argues arguing argued argument someone
something thing things think thought remember one really lesswrong lw
""".split())  # noqa: SIM905  (a word list reads better as text)


def words(query: str) -> list[str]:
    """Lower-cased words of the query, in order, repeats kept."""
    return [w.lower() for w in _WORD.findall(query)]


def keyword_terms(query: str) -> list[str]:
    """Distinct content words of the query (at most MAX_TERMS), for an OR full-text query."""
    terms = [w for w in dict.fromkeys(words(query)) if w not in STOPWORDS]
    return terms[:MAX_TERMS]


def fts5_match(terms: list[str]) -> str:
    """An FTS5 MATCH expression for any of `terms`, each a quoted string (never syntax)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def stem(word: str) -> str:
    """The word as FTS5's `porter unicode61 remove_diacritics 2` tokenizer indexes it: lower
    case, accents dropped, then the Porter stemmer (words under 3 letters pass unchanged)."""
    word = "".join(c for c in unicodedata.normalize("NFD", word.lower())
                   if not unicodedata.combining(c))
    if len(word) < 3:
        return word
    stemmer = getattr(_local, "porter", None)
    if stemmer is None:  # a PyStemmer object is not thread-safe: one per thread
        stemmer = _local.porter = Stemmer.Stemmer("porter")
    result: str = stemmer.stemWord(word)
    return result


def highlight_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Character spans of the words in `text` that match a content word of the query
    (exactly or by Porter stem, as FTS5 matched them: "computational" for "computationally")."""
    terms = keyword_terms(query)
    if not terms:
        return []
    stems = {stem(t) for t in terms}
    matches: dict[str, bool] = {}  # a passage repeats its words: decide each word once
    spans = []
    for match in _WORD.finditer(text):
        word = match[0].lower()
        hit = matches.get(word)
        if hit is None:
            hit = matches[word] = stem(word) in stems
        if hit:
            spans.append(match.span())
    return spans
