"""The lexical side of search, defined once for both engines: which tokens a passage holds, how its
title counts, and BM25's constants. The SQLite engine scores from postings in memory
(``sqlite.index.LexicalIndex``), the PostgreSQL engine from a postings table (``postgres.lexical``);
both read this module, so they rank alike.

The definition is FTS5's (``porter unicode61 remove_diacritics 2`` tokens, ``text.index_tokens``;
k1 = 1.2, b = 0.75; IDF log((N - n + 0.5) / (n + 0.5)) floored at 1e-6 for a term in more than
half the passages), so rankings also agree with SQLite's own ``bm25()`` (a test checks it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..text import index_tokens

K1 = 1.2
B = 0.75
# FTS5's floor for a term in more than half the passages (its IDF would be negative): such a term
# still adds a little, so a passage holding it ranks above one that does not.
IDF_FLOOR = 1e-6
# What a title word counts against a body word: a title names the topic of every passage of its
# document, so it helps, but one passage's own words come first.
TITLE_WEIGHT = 0.5

# A passage's terms: term -> frequency (title words count ``TITLE_WEIGHT``), and its length in tokens.
Terms = tuple[dict[str, float], int]

__all__ = ["B", "IDF_FLOOR", "K1", "TITLE_WEIGHT", "Terms", "idf", "index_tokens", "tokenise"]


def idf(passages: int, df: int) -> float:
    """BM25's inverse document frequency of a term held by ``df`` of ``passages`` passages."""
    value = math.log((passages - df + 0.5) / (df + 0.5))
    return value if value > 0 else IDF_FLOOR


def tokenise(texts: Sequence[tuple[str, str]], title_weight: float = TITLE_WEIGHT) -> list[Terms]:
    """Per (title, text): term frequencies and length. Pure CPU work: callers run it in a worker,
    before any row is written, so a failure leaves the index untouched."""
    out = []
    for title, text in texts:
        body, head = index_tokens(text), index_tokens(title) if title else []
        counts: dict[str, float] = {}
        for t in body:
            counts[t] = counts.get(t, 0.0) + 1.0
        for t in head:
            counts[t] = counts.get(t, 0.0) + title_weight
        out.append((counts, len(body) + len(head)))
    return out
