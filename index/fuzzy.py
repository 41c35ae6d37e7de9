"""Fuzzy title and author matching: a misspelt author or part of a title still lands.

Titles: each query word is matched against the words of the candidates' titles with rapidfuzz
(ratio ≥ 85, so "lethalites" finds "lethalities"); a title scores the share of its content
words that the query covers, each weighted by its idf among the candidates. Authors: query
word n-grams against full names, forum slugs and surnames.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from .catalog import AuthorInfo
from .query import STOPWORDS, words

WORD_SIMILARITY = 85.0
NAME_SIMILARITY = 88.0
MIN_TITLE_COVERAGE = 0.6
_MIN_FUZZY_LEN = 4  # shorter words must match exactly: "rl" is not "ml"


@dataclass(frozen=True)
class TitleMatch:
    """A document whose title the query covers: `coverage` in (0, 1], `weight` its idf mass."""

    document_id: int
    coverage: float
    weight: float


class TitleMatcher:
    """Fuzzy matching of query words against every searchable title."""

    def __init__(self, titles: Sequence[tuple[int, str]]) -> None:
        self._titles: dict[int, dict[str, float]] = {}
        postings: dict[str, list[int]] = defaultdict(list)
        for doc_id, title in titles:
            content = _content_words(title)
            if content:
                self._titles[doc_id] = dict.fromkeys(content, 0.0)
                for term in content:
                    postings[term].append(doc_id)
        total = max(len(self._titles), 1)
        self._idf = {t: math.log(1 + total / len(ids)) for t, ids in postings.items()}
        for terms in self._titles.values():
            for term in terms:
                terms[term] = self._idf[term]
        self._postings = dict(postings)
        self._vocabulary = list(self._postings)

    def match(self, query: str, limit: int = 50) -> list[TitleMatch]:
        """Titles whose content words the query mostly contains, best first."""
        covered = self._covered_terms(query)
        if not covered:
            return []
        candidates = {doc for term in covered for doc in self._postings[term]}
        found = []
        for doc_id in candidates:
            terms = self._titles[doc_id]
            hit = sum(idf * covered[t] for t, idf in terms.items() if t in covered)
            total = sum(terms.values())
            coverage = hit / total
            matched = sum(1 for t in terms if t in covered)
            single = len(terms) == 1 and len(next(iter(terms))) >= 6
            if coverage >= MIN_TITLE_COVERAGE and (matched >= 2 or single):
                found.append(TitleMatch(doc_id, coverage, hit))
        found.sort(key=lambda m: (-m.coverage * m.weight, m.document_id))
        return found[:limit]

    def _covered_terms(self, query: str) -> dict[str, float]:
        """Title words the query contains, exactly or misspelt, with a similarity in (0, 1]."""
        covered: dict[str, float] = {}
        for word in dict.fromkeys(w for w in words(query) if w not in STOPWORDS):
            if word in self._postings:
                covered[word] = 1.0
            if len(word) < _MIN_FUZZY_LEN:
                continue
            for term, score, _ in process.extract(word, self._vocabulary, scorer=fuzz.ratio,
                                                  score_cutoff=WORD_SIMILARITY, limit=5):
                if len(term) >= _MIN_FUZZY_LEN:
                    covered[term] = max(covered.get(term, 0.0), score / 100)
        return covered


@functools.lru_cache(maxsize=65_536)
def _content_words(title: str) -> tuple[str, ...]:
    """A title's distinct content words, in the order of the set the matcher always built
    (remembered: each search splits the titles of its ~500 candidates again otherwise)."""
    return tuple({w for w in words(title) if w not in STOPWORDS})


@dataclass(frozen=True)
class AuthorMatch:
    """An author the query names, and how closely (0-1)."""

    author_id: int
    name: str
    similarity: float


class AuthorMatcher:
    """Finds author names, forum slugs or surnames in a query, allowing misspellings."""

    def __init__(self, authors: Sequence[AuthorInfo]) -> None:
        self._keys: list[str] = []
        self._owners: list[AuthorInfo] = []
        for author in authors:
            for key in _name_keys(author):
                self._keys.append(key)
                self._owners.append(author)

    def match(self, query: str, limit: int = 3) -> list[AuthorMatch]:
        """Authors named in the query, most similar first."""
        tokens = words(query)
        grams = {" ".join(tokens[i : i + n]) for n in (1, 2, 3)
                 for i in range(len(tokens) - n + 1)}
        grams |= {g.replace(" ", "") for g in grams if " " in g}  # "paul christiano" → slug
        grams = {g for g in grams if len(g) >= 5 and g not in STOPWORDS}
        if not grams or not self._keys:
            return []
        best: dict[int, AuthorMatch] = {}
        for gram in grams:
            for _, score, index in process.extract(gram, self._keys, scorer=fuzz.ratio,
                                                   score_cutoff=NAME_SIMILARITY, limit=5):
                owner = self._owners[index]
                if score / 100 > (best[owner.id].similarity if owner.id in best else 0):
                    best[owner.id] = AuthorMatch(owner.id, owner.name, score / 100)
        ranked = sorted(best.values(), key=lambda m: -m.similarity)
        return ranked[:limit]


def _name_keys(author: AuthorInfo) -> list[str]:
    """Lower-cased forms a query may name an author by: full name, slug, distinctive surname."""
    name = " ".join(words(author.name))
    keys = {name, name.replace(" ", "")}
    if author.slug:
        keys.add(re.sub(r"[^a-z0-9]", "", author.slug.lower()))
    parts = name.split()
    if len(parts) >= 2 and len(parts[-1]) >= 5 and parts[-1] not in STOPWORDS:
        keys.add(parts[-1])
    return [k for k in keys if len(k) >= 5]
