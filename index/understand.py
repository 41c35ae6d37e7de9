"""Query understanding for vague queries: an alias map for expansion, and author hints.

The alias map joins a small curated list of the field's abbreviations (RLHF, CEV, ELK, IDA,
mesa-optimizer ↔ inner misalignment, …) with aliases mined from the store: a title that spells
out a phrase and its abbreviation ("Iterated Distillation and Amplification (IDA)") and tag
names, whose initials become an alias when they are three letters or more. A query that names
an alias gets the other side appended, so that bm25 and the embedding see both spellings.

Author hints: "a Paul Christiano post about …", "Scott's essay on …", "Rohin's newsletter".
Full names, forum handles and surnames are matched fuzzily by `fuzzy.AuthorMatcher`; this adds
first names, which are ambiguous ("Scott"), so a first name only counts when it is followed by
a possessive or preceded by "by", and it names at most the three most prolific authors who
carry it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .catalog import AuthorInfo
from .query import STOPWORDS, words

# Curated: the field's abbreviations and near-synonyms that a half-remembering user types in
# either form. An abbreviation expands to its spelled-out form only; a phrase ↔ phrase entry
# works both ways. Mainstream terms the corpus uses in both forms (AGI, ML, RL, LLM, EA, "AI
# safety") are left out: on the tune split their expansions only added common words to the
# OR query (R@1 on paraphrases fell 0.72 → 0.69 with them in).
CURATED: dict[str, tuple[str, ...]] = {
    "rlhf": ("reinforcement learning from human feedback",),
    "cev": ("coherent extrapolated volition",),
    "elk": ("eliciting latent knowledge",),
    "ida": ("iterated distillation and amplification", "iterated amplification"),
    "hch": ("humans consulting hch",),
    "mesa optimizer": ("inner misalignment", "inner alignment", "learned optimization"),
    "mesa optimization": ("inner alignment", "learned optimization"),
    "inner misalignment": ("mesa optimizer",),
    "inner alignment": ("mesa optimizer",),
    "deceptive alignment": ("treacherous turn",),
    "treacherous turn": ("deceptive alignment",),
    "udt": ("updateless decision theory",),
    "fdt": ("functional decision theory",),
    "tdt": ("timeless decision theory",),
    "cdt": ("causal decision theory",),
    "edt": ("evidential decision theory",),
    "irl": ("inverse reinforcement learning",),
    "cirl": ("cooperative inverse reinforcement learning",),
    "fai": ("friendly ai",),
    "miri": ("machine intelligence research institute",),
    "cfar": ("center for applied rationality",),
    "fhi": ("future of humanity institute",),
    "chai": ("center for human compatible ai",),
    "x risk": ("existential risk",),
    "xrisk": ("existential risk",),
    "s risk": ("suffering risk",),
    "gcr": ("global catastrophic risk",),
    "80k": ("80000 hours",),
    "gwwc": ("giving what we can",),
    "instrumental convergence": ("power seeking",),
    "power seeking": ("instrumental convergence",),
    "wireheading": ("reward tampering", "reward hacking"),
    "reward hacking": ("specification gaming", "reward tampering"),
    "specification gaming": ("reward hacking",),
    "paperclip maximizer": ("paperclipper",),
    "pdoom": ("probability of doom",),
    "p doom": ("probability of doom",),
}
_SPELLED_OUT = re.compile(r"((?:[A-Za-z][\w-]*\s+){1,6}?[A-Za-z][\w-]*)\s*\(([A-Za-z]{2,8})\)")
_POSSESSIVE = re.compile(r"\b([A-Za-z]{3,})(?:'s|’s|s')\b|\bby\s+([A-Za-z]{3,})\b")
FIRST_NAME_AUTHORS = 3  # at most this many prolific authors per ambiguous first name
MIN_FIRST_NAME_DOCS = 3  # a first name points only at authors with this many documents


@dataclass(frozen=True)
class Expansion:
    """What the alias map adds to a query."""

    terms: tuple[str, ...]
    """Phrases appended to the query (the other spelling of each alias it names)."""

    def apply(self, text: str) -> str:
        """The query with the phrases appended."""
        return " ".join([text, *self.terms]) if self.terms else text


class AliasMap:
    """Abbreviations and synonyms, curated and mined from titles and tags, used both ways."""

    def __init__(self, titles: Iterable[str] = (), tags: Iterable[str] = (),
                 curated: dict[str, tuple[str, ...]] | None = None) -> None:
        self._aliases: dict[str, set[str]] = defaultdict(set)
        for key, values in (CURATED if curated is None else curated).items():
            for value in values:
                self._add(key, value)
        for title in titles:
            for phrase, short in _SPELLED_OUT.findall(title):
                if _initials(phrase).endswith(short.lower()):
                    spelled = " ".join(words(phrase)[-len(short):])
                    self._add(short, spelled)
        for tag in tags:
            tag_words = [w for w in words(tag) if w not in STOPWORDS]
            if len(tag_words) >= 3:
                self._add("".join(w[0] for w in tag_words), " ".join(tag_words))
        self._longest = max((len(k.split()) for k in self._aliases), default=1)

    def _add(self, short: str, long: str) -> None:
        a, b = " ".join(words(short)), " ".join(words(long))
        if a and b and a != b:
            self._aliases[a].add(b)
            if " " in a:  # a phrase ↔ phrase synonym; an abbreviation only expands
                self._aliases[b].add(a)

    def __len__(self) -> int:
        return len(self._aliases)

    def expand(self, query: str) -> Expansion:
        """The other spellings of every alias the query names (longest names first)."""
        tokens = words(query)
        joined = " ".join(tokens)
        found: list[str] = []
        for n in range(min(self._longest, len(tokens)), 0, -1):
            for i in range(len(tokens) - n + 1):
                gram = " ".join(tokens[i : i + n])
                for other in sorted(self._aliases.get(gram, ())):
                    if other not in found and other not in joined:
                        found.append(other)
        return Expansion(tuple(found))


def _initials(phrase: str) -> str:
    return "".join(w[0] for w in words(phrase))


class FirstNames:
    """First names of prolific authors, for hints like "Scott's essay" or "by Paul"."""

    def __init__(self, authors: Sequence[AuthorInfo]) -> None:
        by_name: dict[str, list[AuthorInfo]] = defaultdict(list)
        for author in authors:
            parts = words(author.name)
            if len(parts) >= 2 and author.documents >= MIN_FIRST_NAME_DOCS:
                by_name[parts[0]].append(author)
        self._names = {name: sorted(owners, key=lambda a: -a.documents)[:FIRST_NAME_AUTHORS]
                       for name, owners in by_name.items() if name not in STOPWORDS}

    def match(self, query: str) -> list[AuthorInfo]:
        """Authors a possessive or "by" first name in the query points at, most prolific first."""
        found: list[AuthorInfo] = []
        for m in _POSSESSIVE.finditer(query):
            name = (m[1] or m[2]).lower()
            for author in self._names.get(name, []):
                if author not in found:
                    found.append(author)
        return found
