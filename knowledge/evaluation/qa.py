"""``newsdesk eval qa DIR [--unanswerable FILE]``: answer quality of ``KnowledgeBase.ask`` on a
BEIR-layout folder.

A question is *answerable* when one of its gold answers occurs (case-insensitively) in one of its
relevant documents. ``answer_hit``: the answer text holds a gold answer (citation markers such as
``[2]`` are removed first, so a gold answer "2" is not matched by a marker); ``cited_gold``: a
citation points at a relevant document; ``false_abstain``: answerable questions refused;
``correct_abstain``: questions of FILE refused; ``lead_hit``: of the answerable questions answered,
those whose answer's first sentence holds a gold answer; ``words_p50``: their answers' median length. A question whose metadata has a date is asked "on"
that date (end of that day, UTC), so its date words ("this week") mean what they meant then.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..config import KnowledgeConfig
from ..embed import Embedder
from .beir import Query, corpus_knowledge_base, read_beir, read_queries

_MARKER = re.compile(r"\s*\[\d+\]")


@dataclass(frozen=True)
class QaRecord:
    query_id: str
    answerable: bool | None  # None: from the unanswerable file
    hit: bool
    cited_gold: bool
    abstained: bool
    confidence: float
    ms: float
    lead_hit: bool = False  # the answer's first sentence holds a gold answer
    words: int = 0  # the answer's length in words (markers not counted); 0 when refused


def asked_at(query: Query) -> dt.datetime | None:
    if query.date is None:
        return None
    return dt.datetime.combine(query.date, dt.time(23, 59), tzinfo=dt.UTC)


def gold_documents(qrels: dict[str, dict[str, float]], query_id: str) -> list[str]:
    """The corpus ids judged relevant to a question, sorted."""
    return sorted(c for c, s in qrels.get(query_id, {}).items() if s > 0)


def answer_in(answers: Sequence[str], texts: Iterable[str]) -> bool:
    """A gold answer occurs, case-insensitively, in one of ``texts``: a question is *answerable*
    when this holds for the texts of its gold documents."""
    return any(a.strip() and a.lower() in t.lower() for t in texts for a in answers)


def first_sentence(answer_text: str) -> str:
    """An answer's first sentence: everything before its first citation marker."""
    m = _MARKER.search(answer_text)
    return answer_text[: m.start()] if m else answer_text


def answer_words(answer_text: str) -> int:
    return len(_MARKER.sub("", answer_text).split())


def answer_contains(answer_text: str, answers: list[str]) -> bool:
    text = _MARKER.sub("", answer_text).lower()
    return any(a.strip() and a.strip().lower() in text for a in answers)


async def run_qa(
    folder: Path,
    *,
    unanswerable: Path | None = None,
    embedder: Embedder | None = None,
    progress: Callable[[int, int], None] | None = None,
    db: str | None = None,
    bm25: str = "auto",
) -> list[QaRecord]:
    data = read_beir(folder)
    config = replace(KnowledgeConfig().with_db(db), pg_bm25=bm25) if db else None
    texts = {str(row["_id"]): (row.get("text") or "") for row in data.corpus}
    extra = read_queries(unanswerable) if unanswerable else []
    records: list[QaRecord] = []
    async with corpus_knowledge_base(data.corpus, embedder=embedder, config=config) as (kb, doc_to_corpus, _):
        todo = [(q, True) for q in data.queries if q.id in data.qrels] + [(q, False) for q in extra]
        for i, (q, from_set) in enumerate(todo):
            started = time.perf_counter()
            answer = await kb.ask(q.text, now=asked_at(q))
            ms = (time.perf_counter() - started) * 1000
            if from_set:
                relevant = set(gold_documents(data.qrels, q.id))
                answerable = answer_in(q.answers, (texts.get(c, "") for c in relevant))
                cited = any(doc_to_corpus.get(c.document_id) in relevant for c in answer.citations)
                records.append(
                    QaRecord(
                        q.id,
                        answerable,
                        (not answer.abstained) and answer_contains(answer.text, q.answers),
                        cited,
                        answer.abstained,
                        answer.confidence,
                        ms,
                        (not answer.abstained) and answer_contains(first_sentence(answer.text), q.answers),
                        0 if answer.abstained else answer_words(answer.text),
                    )
                )
            else:
                records.append(QaRecord(q.id, None, False, False, answer.abstained, answer.confidence, ms))
            if progress:
                progress(i + 1, len(todo))
    return records


def summarise(records: list[QaRecord]) -> dict:
    answerable = [r for r in records if r.answerable]
    negatives = [r for r in records if r.answerable is None]
    share = lambda xs: round(sum(xs) / len(xs), 4) if xs else 0.0  # noqa: E731
    ms = [r.ms for r in records]
    answered = [r for r in answerable if not r.abstained]
    return {
        "answerable": len(answerable),
        "answer_hit": share([r.hit for r in answerable]),
        # Over the answerable questions that were answered: the first sentence holds the answer;
        # and the answers' median length.
        "lead_hit": share([r.lead_hit for r in answered]),
        "words_p50": float(np.percentile([r.words for r in answered], 50)) if answered else 0.0,
        "cited_gold": share([r.cited_gold for r in answerable]),
        "false_abstain": share([r.abstained for r in answerable]),
        "unanswerable": len(negatives),
        "correct_abstain": share([r.abstained for r in negatives]),
        "query_ms_p50": round(float(np.percentile(ms, 50)), 2) if ms else 0.0,
        "query_ms_p95": round(float(np.percentile(ms, 95)), 2) if ms else 0.0,
    }


async def evaluate_qa(
    folder: Path,
    *,
    unanswerable: Path | None = None,
    embedder: Embedder | None = None,
    progress: Callable[[int, int], None] | None = None,
    db: str | None = None,
    bm25: str = "auto",
) -> dict:
    return summarise(
        await run_qa(folder, unanswerable=unanswerable, embedder=embedder, progress=progress, db=db, bm25=bm25)
    )
