"""What a user typed, turned into words that are safe to hand to any full-text engine.

Nothing of the query reaches FTS5 or PostgreSQL as syntax: only runs of letters and digits
are kept (quotes, `AND(`, `*`, `-`, `NEAR` and emoji are dropped or become plain words), and
each is passed as a quoted string (FTS5) or a bound parameter (PostgreSQL).
"""

from __future__ import annotations

import re

MAX_TERMS = 32
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


def _stem(word: str) -> str:
    """A crude stem: long words keep their first 70% (at least 4 letters)."""
    return word if len(word) <= 4 else word[: max(4, int(len(word) * 0.7))]


def _shares_stem(word: str, term: str, stem: str) -> bool:
    """Whether two words of 4+ letters share a stem; shorter words must match exactly."""
    if len(word) < 4 or len(stem) < 4:
        return False
    return word.startswith(stem) or term.startswith(_stem(word))


def highlight_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Character spans of the words in `text` that match a content word of the query
    (exactly or sharing a stem: "computational" for "computationally")."""
    terms = keyword_terms(query)
    if not terms:
        return []
    pairs = [(t, _stem(t)) for t in terms]
    matches: dict[str, bool] = {}  # a passage repeats its words: decide each word once
    spans = []
    for match in _WORD.finditer(text):
        word = match[0].lower()
        hit = matches.get(word)
        if hit is None:
            hit = matches[word] = word not in STOPWORDS and any(
                word == t or _shares_stem(word, t, s) for t, s in pairs)
        if hit:
            spans.append(match.span())
    return spans
