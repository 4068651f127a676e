"""What a conversation is about: the documents its last answer quoted, and how they rank for the
next question. Ranking only: whether to answer is decided from the evidence, as for any question."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from . import retrieval
from .models import Document, Passage
from .termweights import coverage, stem_weights, text_stems

if TYPE_CHECKING:
    from .corpus import Corpus


async def talked_of(
    corpus: Corpus, quoted: Sequence[str], scope: int | None, vector: np.ndarray | None = None
) -> set[int]:
    """The documents holding the sentences an answer quoted (``question.earlier_answers``: spaces
    collapsed, maybe a note before the first, "(I read ... as ...)"), found by their words: only
    the BM25 side is read, so the question's own ``vector`` stands in and nothing more is embedded."""
    quotes = [q for q in map(_plain, quoted) if len(q) > 20]
    if not quotes:
        return set()
    found = await retrieval.candidates(corpus, " ".join(quotes)[:2000], scope=scope, n=6, query_vector=vector)
    rows = await corpus.store.passages_with_documents(sorted(found.bm25))
    return {doc.id for passage, doc in rows.values() if any(q in _plain(passage.text) for q in quotes)}


def _plain(text: str) -> str:
    text = re.sub(r"^\s*\([^()]*\)\s+", "", text)  # "(I read “Helvai” as “Helvia”.) ..."
    return " ".join(text.split())


def conversation_first(
    scores: Mapping[int, float],
    rows: Mapping[int, tuple[Passage, Document]],
    talked: set[int],
    terms: Sequence[str],
    ahead_by: float,
) -> dict[int, float]:
    """In a conversation, "what does the union want?" after an answer on a mine strike asks about
    that strike's union, not the port's in a fresher document. The passages of the documents
    ``talked`` of come first (in their order, ``ahead_by`` ahead of the rest) when they hold as much
    of the question's words as any other passage; "What did Lagarde say?" next is a new topic, and
    a passage naming Lagarde holds more of it."""
    weights = stem_weights(terms)
    held = {pid: coverage(weights, text_stems(f"{rows[pid][1].title} {rows[pid][0].text}")) for pid in scores}
    others = max((h for pid, h in held.items() if rows[pid][1].id not in talked), default=0.0)
    ahead = [pid for pid in scores if rows[pid][1].id in talked and held[pid] > 0 and held[pid] >= others]
    if not ahead:
        return dict(scores)
    lift = max(scores.values()) - max(scores[pid] for pid in ahead) + ahead_by
    return {pid: score + lift if pid in ahead else score for pid, score in scores.items()}
