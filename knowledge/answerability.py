"""Does what we found answer the question? The evidence the refusal decision looks at, and its
logistic model.

The decision is made from the evidence alone: how much of the question's content the answer's
sentences and their passage hold (its words weighted by general-English rarity, its names and
numbers, the kind of answer asked for), how closely question and passage match in meaning (the
dense cosine, an absolute number), and whether the passage is about the year the question names.
Nothing here is relative to the collection (no IDF, no lead over the other documents, no z-score
over the candidates) or to the time of asking: a collection of 1 document and of 1,000,000, asked
the day the news broke or two years later, read the same evidence the same way (issue 16). Only a
question with time words ("this week", "latest") also weighs how far its best document is from the
time it asks about.

Every feature is cheap (string and array work on what retrieval already returned; no extra model
call). The coefficients are fitted by ``bench/train_refusal.py`` on the public dev sets (README,
"Refusals", has the cross-validated trade-off; ``newsdesk eval refusals`` reproduces it).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .signals import (
    age_of,
    answer_type,
    bigram_coverage,
    count_held,
    has_answer_of_type,
    has_named_role,
    has_quantity,
    missing_share,
    names_absent,
    role_asked,
    specific_terms,
    text_keys,
    weighted_missing_share,
    year_mismatch,
)
from .termweights import coverage, text_stems

# ---------------------------------------------------------------------------- the evidence


@dataclass(frozen=True)
class Evidence:
    """What the refusal decision looks at."""

    lead_coverage: float  # rarity-weighted share of the question's words in the answer's first sentence
    lead_coverage_titled: float  # ... in that sentence and its document's title
    cited_coverage: float  # ... in the passage it comes from (with the title)
    coverage3: float  # ... in the three best passages together
    cited_cosine: float  # dense cosine of question and that passage
    specific_missing: float  # share of the question's names/numbers not in the passage (with title)
    specific_missing_answer: float  # ... not in the answer's sentences
    specific_missing_weighted: float  # specific_missing, rarity-weighted
    type_missing: float  # 1: the question asks who/when/how many and the answer holds none
    quantity_missing: float  # 1: "how many X?" and no number next to X in the answer
    bigram_coverage: float  # share of the question's word pairs in the passage
    rarest_missing: float  # 1: the question's rarest word is not in the passage
    has_specific: float  # 1 when the question names anything specific
    typed: float  # 1 when the question's answer type is known
    year_mismatch: float  # the question's year is neither in the passage nor its date
    names_absent: float  # share of the asked sentence's names in none of the passages read
    names_absent_cited: float  # ... not in the cited passage
    # 1 when the question has time words and the passage is about it at all (TIME_WORDS_MIN_COSINE);
    # only with time words does age count.
    time_words: float = 0.0
    age_asked: float = 0.0  # with time words: the passage's distance from the time asked about
    # Not a feature of the model (``weak_match``): the question has two words or more and the
    # passage cited, with its title, holds one of them at most, and not the count a "how many"
    # asks for ("How many fans attended?" and "in front of 19,400 fans").
    one_word: bool = False
    # Not a feature either: "Who is the CEO of Ledgerly?" and no name next to the role in the
    # answer (``signals.has_named_role``), which only a holder of the role answers.
    role_missing: bool = False

    def features(self) -> list[float]:
        return [getattr(self, name) for name in FEATURES]


FEATURES = (
    "lead_coverage",
    "lead_coverage_titled",
    "cited_coverage",
    "coverage3",
    "cited_cosine",
    "specific_missing",
    "specific_missing_answer",
    "specific_missing_weighted",
    "type_missing",
    "quantity_missing",
    "bigram_coverage",
    "rarest_missing",
    "has_specific",
    "typed",
    "year_mismatch",
    "names_absent",
    "names_absent_cited",
    "time_words",
    "age_asked",
)


# The direction each feature may push, where its meaning fixes it (+1: more of it, more likely
# answerable; -1: less; 0: free). Fitting keeps to it (``evaluation.refusals.fit_logistic``): on
# the dev sets correlated features can take the "wrong" sign, which would not hold elsewhere.
FEATURE_SIGNS = {
    "lead_coverage": 1,
    "lead_coverage_titled": 1,
    "cited_coverage": 1,
    "coverage3": 1,
    "cited_cosine": 1,
    "bigram_coverage": 1,
    "specific_missing": -1,
    "specific_missing_answer": -1,
    "specific_missing_weighted": -1,
    "type_missing": -1,
    "quantity_missing": -1,
    "rarest_missing": -1,
    "year_mismatch": -1,
    "names_absent": -1,
    "names_absent_cited": -1,
    "age_asked": -1,
}


# Time words ("today", "this weekend") make a recent passage likelier the answer only when the
# passage is about the question at all: otherwise "Is it going to rain this weekend?" was answered
# with whatever article the week brought. On the dev sets 99% of the answerable questions with time
# words have a cosine above 0.2 with their cited passage; 88% of unrelated lines with time words
# put to small collections have one below.
TIME_WORDS_MIN_COSINE = 0.2


def gather_evidence(
    question: str,
    weights: Mapping[str, float],
    *,
    answer_sentences: Sequence[str],
    cited_title: str,
    cited_passage: str,
    cited_cosine: float,
    top_texts: Sequence[str] = (),
    cited_date: dt.date | None = None,
    time_words: bool = False,
    today: dt.date | None = None,
    asks: str | None = None,
) -> Evidence:
    """``weights``: the question's stems and their rarity weights (``termweights.stem_weights``);
    ``answer_sentences``: what the answer would quote, first sentence first; ``cited_passage``: the
    passage of the first sentence, ``cited_title`` and ``cited_date`` its document's;
    ``top_texts``: the best passages (with titles), best first; ``today``: the day the question's
    time words count from; ``asks``: the words whose question word says what is asked, when not all
    of ``question`` (a follow-up's own: "when" in "when did they leave?", not the "how many" of the
    question it carries)."""
    asks = asks or question
    lead = answer_sentences[0] if answer_sentences else ""
    lead_stems = text_stems(lead)
    title_stems = text_stems(cited_title)
    cited_text = f"{cited_title}\n{cited_passage}"
    cited_stems = text_stems(cited_passage) | title_stems
    three: set[str] = set()
    for text in top_texts[:3]:
        three |= text_stems(text)
    cited_keys = text_keys(cited_text)
    read_keys = set(cited_keys)
    for text in top_texts:
        read_keys |= text_keys(text)
    specific = specific_terms(question)
    kind = answer_type(asks)
    # Ties on weight go to the first stem in sorted order: the same in every process.
    rarest = max(sorted(weights), key=lambda t: weights[t]) if weights else None
    return Evidence(
        lead_coverage=coverage(weights, lead_stems),
        lead_coverage_titled=coverage(weights, lead_stems | title_stems),
        cited_coverage=coverage(weights, cited_stems),
        coverage3=coverage(weights, three | cited_stems),
        cited_cosine=float(cited_cosine),
        specific_missing=missing_share(specific, cited_keys),
        specific_missing_answer=missing_share(specific, text_keys(" ".join(answer_sentences))),
        specific_missing_weighted=weighted_missing_share(specific, cited_keys, weights),
        type_missing=0.0 if has_answer_of_type(kind, answer_sentences, question) else 1.0,
        quantity_missing=0.0 if has_quantity(asks, answer_sentences) else 1.0,
        bigram_coverage=bigram_coverage(question, cited_text),
        rarest_missing=1.0 if rarest is not None and rarest not in cited_stems else 0.0,
        has_specific=1.0 if specific else 0.0,
        typed=1.0 if kind else 0.0,
        year_mismatch=year_mismatch(question, cited_text, cited_date),
        names_absent=names_absent(question, read_keys),
        names_absent_cited=names_absent(question, cited_keys),
        time_words=1.0 if time_words and cited_cosine > TIME_WORDS_MIN_COSINE else 0.0,
        age_asked=age_of(cited_date, today) if time_words and today is not None else 0.0,
        one_word=len(weights) >= 2
        and sum(term in cited_stems for term in weights) <= 1
        and not count_held(asks, answer_sentences),
        role_missing=bool(role := role_asked(asks))
        and not any(has_named_role(role, s, question, loose=True) for s in answer_sentences),
    )


# Logistic model of "the documents answer this": bench/train_refusal.py writes these.
_ANSWERABLE_COEF = (
    0.3753,
    0,
    1.713,
    0,
    7.419,
    0,
    0,
    0,
    0,
    -1.158,
    1.078,
    -0.5262,
    -0.1018,
    -0.1627,
    -0.4057,
    -0.5784,
    -1.027,
    1.73,
    -3.95,
)
_ANSWERABLE_BIAS = -3.546
ABSTAIN_BELOW = 0.1026  # refuse when the probability of "answerable" is below this

# When no passage in reach holds a single word of the question (BM25 found nothing), only meaning
# ties the answer to it, and it must be clear: a cosine of at least this with the passage cited.
# Off-topic lines in small collections are mostly in this case ("What is photosynthesis?", "hmm"),
# answered with a passage at 0.1-0.26 of the model's probability; answerable questions rarely are
# (1.4% of those asked in small collections of realtimeqa-dev) and then sit above it (README,
# "Refusals").
MEANING_ALONE_MIN_COSINE = 0.3


def weak_match(e: Evidence, *, meaning_alone: bool) -> bool:
    """Refused whatever the model: only meaning ties the passage to the question, and it is not
    clear (a cosine below ``MEANING_ALONE_MIN_COSINE``). So when no passage holds a word of the
    question, and when the passage cited holds one word of a question of two or more, not its
    rarest: "How do I cook rice?" met "Tim Cook, CEO of Apple", "What is a black hole?" the Black
    Panther franchise, at cosines of 0.17-0.19 and probabilities of 0.13-0.16. Short questions
    people type meet their passages at low cosines too ("What does the union want?", 0.13): one
    whose rarest word the passage holds is left to the model. In small collections of
    realtimeqa-dev, off-topic lines refused 0.965 to 0.985, absent questions 0.9375 to 0.9525,
    the answerable ones as before (``newsdesk eval collections``; README, "Refusals")."""
    if meaning_alone or e.one_word and e.rarest_missing:
        return e.cited_cosine < MEANING_ALONE_MIN_COSINE
    return False


def probability(features: Sequence[float], coef: Sequence[float], bias: float) -> float:
    z = bias + sum(w * x for w, x in zip(coef, features, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def answerability(e: Evidence) -> float:
    return probability(e.features(), _ANSWERABLE_COEF, _ANSWERABLE_BIAS)
