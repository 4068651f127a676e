"""Does what we found answer the question? The evidence the refusal decision looks at, and its
logistic model.

Every feature is cheap (string and array work on what retrieval already returned; no extra model
call). The hard case is the *near miss*: a news question on the same beat as the corpus whose own
article is missing. Its neighbours share the question's topic words, so term coverage and cosine
stay high; what gives it away is that the question's *specific* words (names, numbers, years) are
missing from what we would quote, that the quoted sentence holds nothing of the kind asked for (a
"who" question answered by a sentence naming nobody new), that the best document is from another
time than the question, and that no document stands out from its neighbours.

The coefficients are fitted by ``scripts/train_refusal.py`` on the public dev sets (README,
"Refusals", has the cross-validated trade-off; ``newsdesk eval refusals`` reproduces it).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .dates import MONTHS
from .text import STOPWORDS, content_words, stem

# ---------------------------------------------------------------------------- specific words


def term_coverage(question_weights: dict[str, float], sentence_stems: set[str]) -> float:
    """IDF-weighted share of the question's terms present in a sentence (0..1)."""
    total = sum(question_weights.values())
    if total <= 0:
        return 0.0
    return sum(w for t, w in question_weights.items() if t in sentence_stems) / total


_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_CAPITALISED = re.compile(r"[A-Z][\w'’-]*")
_WORD = re.compile(r"[\w'’-]+")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
# Capitalised words that are grammar, not names ("What", "This", "In").
_NOT_NAMES = STOPWORDS | {
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "this",
    "these",
    "that",
    "those",
    "according",
    "after",
    "before",
    "during",
    "in",
    "on",
    "at",
    "for",
    "the",
    "a",
    "an",
    "name",
    "true",
    "false",
    "fill",
    "blank",
    "following",
    "mr",
    "mrs",
    "ms",
    "dr",
}


def _norm_number(token: str) -> str:
    return token.replace(",", "").rstrip(".")


def _word_key(word: str) -> str:
    return stem(word.lower().strip("'’-").removesuffix("'s").removesuffix("’s"))


def specific_terms(question: str) -> set[str]:
    """The question's specific words: numbers (years included) and the words of proper names,
    lowercased and stemmed (numbers without thousands separators). A capitalised first word
    counts only when the next word is capitalised too ("Joe Biden said ..."): alone it is usually
    just the sentence start ("Which ...")."""
    out = {_norm_number(m.group(0)) for m in _NUMBER.finditer(question)}
    tokens = list(_WORD.finditer(question))
    for i, m in enumerate(tokens):
        word = m.group(0)
        if not _CAPITALISED.fullmatch(word) or word.lower() in _NOT_NAMES:
            continue
        if i == 0 and not (len(tokens) > 1 and _CAPITALISED.fullmatch(tokens[1].group(0))):
            continue
        out.add(_word_key(word))
    return {t for t in out if t}


def text_keys(text: str) -> set[str]:
    """The keys ``specific_terms`` are matched against: every word's stem and every number."""
    keys = {_word_key(w) for w in _WORD.findall(text)}
    keys.update(_norm_number(m.group(0)) for m in _NUMBER.finditer(text))
    return keys


def missing_share(terms: set[str], keys: set[str]) -> float:
    """Share of ``terms`` not among ``keys``; 0 when there are no terms (nothing to miss)."""
    if not terms:
        return 0.0
    return sum(1 for t in terms if t not in keys) / len(terms)


def weighted_missing_share(terms: set[str], keys: set[str], weights: Mapping[str, float]) -> float:
    """``missing_share`` with each term weighted by its IDF (``weights``; terms the question's
    weights lack count as rare): missing "Kuechly" matters, missing "US" hardly."""
    if not terms:
        return 0.0
    top = max(weights.values(), default=1.0)
    w = {t: weights.get(t, top) for t in terms}
    return sum(v for t, v in w.items() if t not in keys) / sum(w.values())


def bigrams(text: str) -> set[tuple[str, str]]:
    """Pairs of neighbouring content words (stemmed), stopwords skipped."""
    stems_ = [stem(w) for w in content_words(text)]
    return set(zip(stems_, stems_[1:], strict=False))


def bigram_coverage(question: str, text: str) -> float:
    """Share of the question's neighbouring word pairs that ``text`` holds as neighbours too: a
    near miss shares the question's topic words, less often its phrases. 1 when the question has
    no pair."""
    asked = bigrams(question)
    if not asked:
        return 1.0
    return len(asked & bigrams(text)) / len(asked)


# ---------------------------------------------------------------------------- answer type

_NAME_NOUNS = (
    r"person|man|woman|people|artist|singer|rapper|musician|band|actor|actress|player|athlete|star|"
    r"author|writer|leader|politician|lawmaker|senator|governor|president|prime minister|ceo|founder|"
    r"official|judge|justice|candidate|company|companies|firm|brand|team|club|organization|group|"
    r"country|countries|nation|state|city|town|region|province|island|continent|capital|place|"
    r"network|airline|retailer|automaker|agency|university|school|party|league|film|movie|show|song|album|book"
)
ANSWER_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "number",
        re.compile(
            r"\bhow (?:many|much|long|old|far|big|tall|high|often|fast)\b|"
            r"\bwhat (?:percentage|percent|number|amount|share|fraction)\b|"
            r"\b(?:the )?(?:number|amount|percentage) of\b",
            re.I,
        ),
    ),
    ("date", re.compile(r"\bwhen\b|\b(?:what|which|in what) (?:year|date|day|month|decade)\b", re.I)),
    (
        "name",
        re.compile(
            rf"\bwho(?:m|se)?\b|\bwhere\b|\b(?:which|what|this|these|whose)\s+(?:\w+\s+)?(?:{_NAME_NOUNS})\b", re.I
        ),
    ),
)
_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion trillion dozen dozens half percent first second third fourth fifth".split()
)
_COUNT_WORDS = _NUMBER_WORDS - {"first", "second", "third", "fourth", "fifth"}  # "the first to ..." counts nothing
_DATE_WORDS = frozenset(
    set(MONTHS)
    | {
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "yesterday",
        "today",
        "tomorrow",
        "tonight",
        "week",
        "weekend",
        "month",
        "year",
        "decade",
        "century",
        "spring",
        "summer",
        "autumn",
        "fall",
        "winter",
        "morning",
        "evening",
        "night",
    }
)


def answer_type(question: str) -> str | None:
    """What kind of thing the question asks for: ``number``, ``date``, ``name`` (a person, place
    or organisation: without a tagger they look alike) or None when it cannot be told."""
    for kind, pattern in ANSWER_TYPES:
        if pattern.search(question):
            return kind
    return None


def has_answer_of_type(kind: str | None, sentences: Iterable[str], question: str) -> bool:
    """Whether the sentences hold something of ``kind`` that the question itself does not (an
    answer is new information: "Who won?" is not answered by a sentence naming only the question's
    own names). True when ``kind`` is None."""
    if kind is None:
        return True
    asked = text_keys(question) | {w.lower() for w in _WORD.findall(question)}
    for sentence in sentences:
        tokens = _WORD.findall(sentence)
        for i, token in enumerate(tokens):
            low = token.lower()
            if low in asked or _word_key(token) in asked:
                continue
            if kind == "number" and (_NUMBER.fullmatch(token) or low in _NUMBER_WORDS):
                return True
            if kind == "date" and (_YEAR.fullmatch(token) or low in _DATE_WORDS):
                return True
            if (
                kind == "name"
                and _CAPITALISED.fullmatch(token)
                and low not in _NOT_NAMES
                and (i > 0 or (len(tokens) > 1 and _CAPITALISED.fullmatch(tokens[1])))
            ):
                return True
    return False


_HOW_MANY = re.compile(r"\bhow (?:many|much)\s+((?:[\w'’-]+\s+){0,2}[\w'’-]+)", re.I)


def has_quantity(question: str, sentences: Iterable[str], *, window: int = 4) -> bool:
    """For "how many X?" ("how many criminal charges"): whether a number stands within ``window``
    words before one of X's words in the sentences ("34 felony criminal charges"); a sentence
    about X without a count does not answer. True for other questions."""
    m = _HOW_MANY.search(question)
    if not m:
        return True
    wanted = {_word_key(w) for w in m.group(1).split() if w.lower() not in STOPWORDS}
    if not wanted:
        return True
    for sentence in sentences:
        tokens = _WORD.findall(sentence)
        for i, token in enumerate(tokens):
            if _word_key(token) in wanted and any(
                _NUMBER.fullmatch(t) or t.lower() in _COUNT_WORDS for t in tokens[max(0, i - window) : i]
            ):
                return True
    return False


# ---------------------------------------------------------------------------- time


def age_of(published: dt.date | None, today: dt.date) -> float:
    """How far a document's date is from the day the question is asked, in either direction, on a
    log scale: 0 the same day, 0.5 about 18 days, 1 a year or more. Undated documents: 0 (no
    evidence either way)."""
    if published is None:
        return 0.0
    days = abs((today - published).days)
    return min(1.0, math.log1p(days) / math.log1p(365))


def year_mismatch(question: str, passage_text: str, published: dt.date | None) -> float:
    """1 when the question names years and the passage neither mentions one of them nor is dated in
    one of them (or the year after, when a year is usually looked back on); else 0."""
    years = {int(y) for y in _YEAR.findall(question)}
    if not years:
        return 0.0
    if any(str(y) in passage_text for y in years):
        return 0.0
    if published is not None and (published.year in years or published.year - 1 in years):
        return 0.0
    return 1.0


# ---------------------------------------------------------------------------- margins


def lead_over_rest(
    scores: Mapping[int, float], best: int, document_of: Mapping[int, int], *, low: float = -1.0, high: float = 3.0
) -> float:
    """How far passage ``best`` scores above the best passage of any *other* document, clipped to
    [low, high]: a question whose document is in the corpus usually has one that stands out; a near
    miss has a crowd of neighbours. ``high`` when no other document was found."""
    doc = document_of.get(best)
    others = [s for pid, s in scores.items() if document_of.get(pid) != doc]
    if best not in scores or not others:
        return high
    return float(min(high, max(low, scores[best] - max(others))))


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
