"""Does what we found answer the question? The evidence the refusal decision looks at, and its
logistic model.

Every feature is cheap (string and array work on what retrieval already returned; no extra model
call). The hard case is the *near miss*: a news question on the same beat as the corpus whose own
article is missing. Its neighbours share the question's topic words, so term coverage and cosine
stay high; what gives it away is that the question's *specific* words (names, numbers, years) are
missing from what we would quote, that the quoted sentence holds nothing of the kind asked for (a
"who" question answered by a sentence naming nobody new), that the best document is from another
time than the question, and that no document stands out from its neighbours.

The coefficients are fitted by ``bench/train_refusal.py`` on the public dev sets (README,
"Refusals", has the cross-validated trade-off; ``newsdesk eval refusals`` reproduces it).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .signals import (
    age_of,
    answer_type,
    bigram_coverage,
    has_answer_of_type,
    has_quantity,
    missing_share,
    specific_terms,
    term_coverage,
    text_keys,
    weighted_missing_share,
    year_mismatch,
)

# ---------------------------------------------------------------------------- the evidence


@dataclass(frozen=True)
class Evidence:
    """What the refusal decision looks at. All cheap: no extra model call."""

    top_cosine: float  # best dense cosine among the candidates
    peak: float  # best cosine minus the 10th best: a clear match stands out
    unknown_terms: float  # share of the question's terms that occur in no passage at all
    dense_z: float  # best cosine in standard deviations above the candidates' mean
    coverage: float  # IDF-weighted share of the question's terms in the best passage
    coverage3: float  # ... in the best three passages together
    rarest_found: float  # 1 when the question's rarest known term is in the best three passages
    specific_missing: float = 0.0  # share of the question's names/numbers not in the cited passage
    specific_missing_answer: float = 0.0  # ... not in the answer's sentences
    type_missing: float = 0.0  # 1: the question asks who/when/how many and the answer holds none
    age: float = 0.0  # the cited document's distance in time from "now" (age_of)
    year_mismatch: float = 0.0  # the question's year is not the cited passage's
    doc_margin: float = 0.0  # how far the cited document is ahead of the next (answer score)
    dense_margin: float = 0.0  # ... in dense cosine
    sentence_coverage: float = 0.0  # IDF-weighted share of the question's terms in the best answer sentence
    has_specific: float = 0.0  # 1 when the question names anything specific
    typed: float = 0.0  # 1 when the question's answer type is known
    specific_missing_idf: float = 0.0  # specific_missing, IDF-weighted
    rarest_missing: float = 0.0  # 1: the question's rarest term is not in the cited passage
    bigram_coverage: float = 1.0  # share of the question's word pairs in the cited passage
    coverage_cited: float = 0.0  # IDF-weighted share of the question's terms in the cited passage
    cited_cosine: float = 0.0  # dense cosine of the cited passage (the recency prior may promote a weak one)
    fresh_cosine: float = 0.0  # best cosine among passages dated within a week of now
    quantity_missing: float = 0.0  # 1: "how many X?" and no number next to X in the answer

    def features(self) -> list[float]:
        return [
            self.top_cosine,
            self.peak,
            self.unknown_terms,
            self.dense_z,
            self.coverage,
            self.coverage3,
            self.rarest_found,
            self.top_cosine * self.coverage3,
            max(self.top_cosine - 0.35, 0.0) * self.peak,
            self.specific_missing,
            self.specific_missing_answer,
            self.type_missing,
            self.age,
            self.year_mismatch,
            self.doc_margin,
            self.dense_margin,
            self.sentence_coverage,
            self.has_specific,
            self.typed,
            self.specific_missing_idf,
            self.rarest_missing,
            self.bigram_coverage,
            self.coverage_cited,
            self.cited_cosine,
            self.fresh_cosine,
            self.quantity_missing,
        ]


FEATURES = (
    "top_cosine",
    "peak",
    "unknown_terms",
    "dense_z",
    "coverage",
    "coverage3",
    "rarest_found",
    "cosine_x_coverage3",
    "cosine_x_peak",
    "specific_missing",
    "specific_missing_answer",
    "type_missing",
    "age",
    "year_mismatch",
    "doc_margin",
    "dense_margin",
    "sentence_coverage",
    "has_specific",
    "typed",
    "specific_missing_idf",
    "rarest_missing",
    "bigram_coverage",
    "coverage_cited",
    "cited_cosine",
    "fresh_cosine",
    "quantity_missing",
)


# The direction each feature may push, where its meaning fixes it (+1: more of it, more likely
# answerable; -1: less; 0: free). Fitting keeps to it (``evaluation.refusals.fit_logistic``): on
# the dev sets correlated features can take the "wrong" sign (a question full of words unknown to
# the corpus looked *more* answerable once dates explained the rest), which would not hold elsewhere.
FEATURE_SIGNS = {
    "top_cosine": 1,
    "coverage": 1,
    "coverage3": 1,
    "rarest_found": 1,
    "sentence_coverage": 1,
    "bigram_coverage": 1,
    "coverage_cited": 1,
    "fresh_cosine": 1,
    "unknown_terms": -1,
    "specific_missing": -1,
    "specific_missing_answer": -1,
    "specific_missing_idf": -1,
    "type_missing": -1,
    "quantity_missing": -1,
    "year_mismatch": -1,
    "rarest_missing": -1,
    "age": -1,
}


def gather_evidence(
    dense: dict[int, float],
    weights: dict[str, float],
    unknown: set[str],
    passage_stems: Sequence[set[str]],
    *,
    question: str = "",
    cited_text: str = "",
    answer_sentences: Sequence[str] = (),
    cited_date: dt.date | None = None,
    today: dt.date | None = None,
    margin: float = 0.0,
    dense_margin: float = 0.0,
    sentence_coverage: float = 0.0,
    cited_cosine: float | None = None,
    fresh_cosine: float | None = None,
) -> Evidence:
    """``passage_stems``: the stems of the best passages in retrieval order; ``cited_text``: the
    passage the answer would quote first (with its document's title), ``cited_date`` its
    document's date, ``answer_sentences`` the sentences it would quote."""
    cosines = np.sort(np.fromiter(dense.values(), dtype=np.float64, count=len(dense)))[::-1]
    top = float(cosines[0]) if len(cosines) else 0.0
    tenth = float(cosines[min(9, len(cosines) - 1)]) if len(cosines) else 0.0
    std = float(cosines.std()) if len(cosines) else 0.0
    dense_z = (top - float(cosines.mean())) / std if std > 1e-9 else 0.0
    first = passage_stems[0] if passage_stems else set()
    three = set().union(*passage_stems[:3]) if passage_stems else set()
    known = {t: w for t, w in weights.items() if t not in unknown}
    rarest = max(known, key=lambda t: known[t]) if known else None
    specific = specific_terms(question)
    kind = answer_type(question)
    cited_keys = text_keys(cited_text)
    return Evidence(
        top_cosine=top,
        peak=top - tenth,
        unknown_terms=len(unknown) / max(1, len(weights)),
        dense_z=dense_z,
        coverage=term_coverage(weights, first),
        coverage3=term_coverage(weights, three),
        rarest_found=1.0 if rarest is not None and rarest in three else 0.0,
        specific_missing=missing_share(specific, cited_keys),
        specific_missing_answer=missing_share(specific, text_keys(" ".join(answer_sentences))),
        type_missing=0.0 if has_answer_of_type(kind, answer_sentences, question) else 1.0,
        age=age_of(cited_date, today) if today else 0.0,
        year_mismatch=year_mismatch(question, cited_text, cited_date),
        doc_margin=margin,
        dense_margin=dense_margin,
        sentence_coverage=sentence_coverage,
        has_specific=1.0 if specific else 0.0,
        typed=1.0 if kind else 0.0,
        specific_missing_idf=weighted_missing_share(specific, cited_keys, weights),
        rarest_missing=1.0 if rarest is not None and rarest not in cited_keys else 0.0,
        bigram_coverage=bigram_coverage(question, cited_text),
        coverage_cited=term_coverage(weights, cited_keys),
        cited_cosine=top if cited_cosine is None else cited_cosine,
        fresh_cosine=top if fresh_cosine is None else fresh_cosine,
        quantity_missing=0.0 if has_quantity(question, answer_sentences) else 1.0,
    )


# Logistic model of "the documents answer this": see scripts/train_refusal.py, which writes these.
_ANSWERABLE_COEF = (
    3.983,
    -0.1181,
    0,
    -0.4262,
    0,
    0.8592,
    0.5951,
    1.141,
    -10.3,
    0,
    0,
    -0.8995,
    -0.5107,
    -0.5089,
    0.5661,
    4.834,
    0.5644,
    -0.05868,
    -0.04969,
    0,
    -0.2871,
    2.027,
    0,
    -4.728,
    11.93,
    -0.9922,
)
_ANSWERABLE_BIAS = -5.019
ABSTAIN_BELOW = 0.1609  # refuse when the probability of "answerable" is below this


def probability(features: Sequence[float], coef: Sequence[float], bias: float) -> float:
    z = bias + sum(w * x for w, x in zip(coef, features, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def answerability(e: Evidence) -> float:
    return probability(e.features(), _ANSWERABLE_COEF, _ANSWERABLE_BIAS)
