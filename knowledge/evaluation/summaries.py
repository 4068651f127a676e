"""`newsdesk eval summaries FILE`: ROUGE of the extractive summariser on clusters of news articles.

FILE is JSONL, one cluster a line: ``{"id", "documents": [str, ...], "summary": str}``. Each cluster
is summarised with a budget equal to its reference summary's length in words, and scored with
``rouge-score`` (ROUGE-1, ROUGE-2, ROUGE-Lsum F1 x 100, Porter stemming; for ROUGE-Lsum both the
summary and the reference have one sentence a line). ``seconds_per_cluster`` is the summariser's
own time (sentence splitting included), not the scorer's.

``--single`` (``single_article_scores``) scores one-article summaries against the article's own
lead at the same length: every document of every line is summarised alone, with the line's
reference. Two lengths: the reference's (``summarize([article], budget)``, the case of a file of
single articles) and a briefing story's (75 words, at most 3 sentences, strict). The lead baselines
take the article's first sentences as split, furniture and all, under the same budget rule; lead-3
is its first three sentences whatever their length.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ..briefing import STORY_SENTENCES, STORY_WORDS
from ..summarize import summarize
from ..text import split_sentences

ROUGE_TYPES = ("rouge1", "rouge2", "rougeLsum")


def _one_sentence_a_line(text: str) -> str:
    return "\n".join(s.text for s in split_sentences(text))


def evaluate_summaries(path: Path, *, single: bool = False, progress: Callable[[int, int], None] | None = None) -> dict:
    """Mean ROUGE F1 (x100) over the clusters of ``path``; ``progress(done, total)`` after each.
    With ``single``, each article summarised alone beside its lead (``single_article_scores``)."""
    if single:
        return single_article_scores(path, progress=progress)
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


# Articles shorter than this are notes or scraping stubs: their lead is the whole text.
MIN_ARTICLE_WORDS = 40


def lead_sentences(
    text: str, budget_words: int, *, max_sentences: int | None = None, strict: bool = False
) -> list[str]:
    """The first sentences of ``text`` as split, under the summariser's budget rule (the sentence that
    crosses the budget is kept unless ``strict``)."""
    out: list[str] = []
    words = 0
    for s in split_sentences(text):
        n = len(s.text.split())
        if (strict and words + n > budget_words) or (max_sentences is not None and len(out) >= max_sentences):
            break
        out.append(s.text)
        words += n
        if words >= budget_words:
            break
    return out


def single_article_scores(path: Path, *, progress: Callable[[int, int], None] | None = None) -> dict:
    """Mean ROUGE F1 (x100) of one-article summaries and of the same articles' leads (see the module's
    docstring); ``progress(done, total)`` after each line."""
    from rouge_score import rouge_scorer

    with open(path, encoding="utf-8") as f:
        clusters = [json.loads(line) for line in f if line.strip()]
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    systems = ("summary", "lead", "lead3", "story", "story_lead")
    totals = {(system, key): 0.0 for system in systems for key in ROUGE_TYPES}
    articles = 0
    for done, cluster in enumerate(clusters, start=1):
        reference = _one_sentence_a_line(cluster["summary"])
        budget = len(cluster["summary"].split())
        for article in cluster["documents"]:
            if len((article or "").split()) < MIN_ARTICLE_WORDS:
                continue
            outputs = {
                "summary": [s.text for s in summarize([article], budget)],
                "lead": lead_sentences(article, budget),
                "lead3": lead_sentences(article, 10**9, max_sentences=3),
                "story": [
                    s.text for s in summarize([article], STORY_WORDS, max_sentences=STORY_SENTENCES, strict=True)
                ],
                "story_lead": lead_sentences(article, STORY_WORDS, max_sentences=STORY_SENTENCES, strict=True),
            }
            for system, sentences in outputs.items():
                scores = scorer.score(reference, "\n".join(sentences))
                for key in ROUGE_TYPES:
                    totals[system, key] += scores[key].fmeasure * 100
            articles += 1
        if progress is not None:
            progress(done, len(clusters))
    n = max(1, articles)
    result = {
        f"{key}" if system == "summary" else f"{system}_{key}": round(totals[system, key] / n, 2)
        for system in systems
        for key in ROUGE_TYPES
    }
    return {**result, "articles": articles}
