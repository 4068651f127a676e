"""`newsdesk eval summaries FILE`: ROUGE of the extractive summariser on clusters of news articles.

FILE is JSONL, one cluster a line: ``{"id", "documents": [str, ...], "summary": str}``. Each cluster
is summarised with a budget equal to its reference summary's length in words, and scored with
``rouge-score`` (ROUGE-1, ROUGE-2, ROUGE-Lsum F1 x 100, Porter stemming; for ROUGE-Lsum both the
summary and the reference have one sentence a line). ``seconds_per_cluster`` is the summariser's
own time (sentence splitting included), not the scorer's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ..summarize import summarize
from ..text import split_sentences

ROUGE_TYPES = ("rouge1", "rouge2", "rougeLsum")


def _one_sentence_a_line(text: str) -> str:
    return "\n".join(s.text for s in split_sentences(text))


def evaluate_summaries(path: Path, *, progress: Callable[[int, int], None] | None = None) -> dict:
    """Mean ROUGE F1 (x100) over the clusters of ``path``; ``progress(done, total)`` after each."""
    from rouge_score import rouge_scorer  # imported here: only the evaluation needs it

    with open(path, encoding="utf-8") as f:
        clusters = [json.loads(line) for line in f if line.strip()]
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    seconds = 0.0
    for done, cluster in enumerate(clusters, start=1):
        reference = cluster["summary"]
        budget = len(reference.split())
        started = time.perf_counter()
        summary = summarize(cluster["documents"], budget)
        seconds += time.perf_counter() - started
        scores = scorer.score(_one_sentence_a_line(reference), "\n".join(s.text for s in summary))
        for key in ROUGE_TYPES:
            totals[key] += scores[key].fmeasure * 100
        if progress is not None:
            progress(done, len(clusters))
    n = max(1, len(clusters))
    return {
        **{key: round(totals[key] / n, 2) for key in ROUGE_TYPES},
        "clusters": len(clusters),
        "seconds_per_cluster": round(seconds / n, 4),
    }
