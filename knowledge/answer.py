"""Extractive answers: the sentences of the retrieved passages that answer the question, each cited
to its document and place, or an honest refusal with the closest passages.

No generative model runs here, so an answer is made only of sentences quoted verbatim from stored
documents. The steps:

1. the question is cleaned (greetings, empty or enormous questions get a reply of their own),
   resolved against the conversation (follow-ups) and its date words turned into a window;
2. hybrid retrieval gives the candidate passages (``retrieval``);
3. the best passages are re-ranked with a recency prior (news questions are about "now") and
   every sentence in them is scored: its passage's score plus the IDF-weighted share of the
   question's terms it contains (a per-sentence model call was measured too slow for the budget);
4. a calibrated model of "the documents answer this" (``answerability``) decides between
   answering and refusing (README, "Refusals"); ``read_question`` does steps 1-3, ``decide`` 4-5,
   so ``newsdesk eval refusals`` can read a question with some documents hidden (``Restriction``);
5. the best sentences (1–4) become the answer, each with its ``[n]``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import retrieval
from .answerability import ABSTAIN_BELOW, Evidence, answerability, gather_evidence
from .dates import DateIntent, format_date, parse_date_intent
from .models import Answer, Citation, Document, Passage
from .question import MAX_QUESTION_CHARS, clean_question, is_greeting, normalise_question, resolve_follow_up
from .signals import lead_over_rest, term_coverage
from .text import split_sentences, stem

if TYPE_CHECKING:
    from .corpus import Corpus

PASSAGES_READ = 6  # passages whose sentences are scored
MAX_SENTENCES = 4
MAX_ANSWER_WORDS = 130
RELATED_SHOWN = 3
FRESH_DAYS = 7  # "now" for a question without date words: the past (or next) week ...
FRESH_FADE_DAYS = 21  # ... then fading out over three more weeks


@dataclass(frozen=True)
class AnswerSettings:
    """Weights chosen on the dev sets (realtimeqa-dev with its unanswerable questions, xquad-en);
    README "Answers" gives the measurements behind each."""

    w_terms: float = 0.5  # sentence score: IDF-weighted share of question terms it holds ...
    w_position: float = 0.001  # ... a nudge towards earlier sentences of a passage ...
    # ... on top of its passage's fused retrieval score (z-scores, plus the recency prior below).
    recency_weight: float = 1.5  # news questions are about now: documents dated near "now" get up to
    recency_days: float = 14.0  # this much extra score, decaying over this many days
    related_ratio: float = 0.3  # a further passage joins the answer if its score is at least this share of the best
    top_sentences: int = 3  # sentences the best passage may give
    abstain_below: float = ABSTAIN_BELOW  # probability of "answerable" under which we refuse (fitted with the model)


SETTINGS = AnswerSettings()

# ---------------------------------------------------------------------------- scoring (pure)


def stems(text: str) -> set[str]:
    return {stem(w) for w in retrieval.query_terms(text)}


def idf(term_docs: int, total: int) -> float:
    """BM25's IDF, floored at a small positive value so common terms still count a little."""
    return max(0.05, math.log(1 + (total - term_docs + 0.5) / (term_docs + 0.5)))


@dataclass(frozen=True)
class ScoredSentence:
    passage_id: int
    rank: int  # of its passage in the answer ranking (0 = best)
    index: int  # position of the sentence in its passage
    start: int  # offsets in the passage text
    end: int
    text: str
    coverage: float
    passage_score: float
    score: float


def sentence_score(passage_score: float, coverage: float, index: int, s: AnswerSettings = SETTINGS) -> float:
    return passage_score + s.w_terms * coverage - s.w_position * index


def select_sentences(
    ranked_passages: Sequence[Sequence[ScoredSentence]],
    *,
    s: AnswerSettings = SETTINGS,
    max_sentences: int = MAX_SENTENCES,
    max_words: int = MAX_ANSWER_WORDS,
) -> list[ScoredSentence]:
    """Up to ``top_sentences`` best sentences of the best passage, then the best sentence of each
    following passage that scores at least ``related_ratio`` of the best passage (an answer that
    several sources support cites them all), within the sentence and word budgets. Near-repeats
    are skipped. Returned in reading order: by passage rank, then position."""
    chosen: list[ScoredSentence] = []
    words = 0
    best_score = None
    for sentences in ranked_passages:
        if not sentences:
            continue
        passage_score = sentences[0].passage_score
        if best_score is None:
            best_score = passage_score
        elif best_score <= 0 or passage_score < s.related_ratio * best_score:
            break
        take = s.top_sentences if not chosen else 1
        for sent in sorted(sentences, key=lambda x: -x.score)[:take]:
            n = len(sent.text.split())
            if len(chosen) >= max_sentences or (chosen and words + n > max_words):
                continue
            if any(_overlap(sent.text, c.text) > 0.6 for c in chosen):
                continue
            chosen.append(sent)
            words += n
        if len(chosen) >= max_sentences:
            break
    return sorted(chosen, key=lambda x: (x.rank, x.index))


def _overlap(a: str, b: str) -> float:
    wa, wb = set(retrieval.query_terms(a)), set(retrieval.query_terms(b))
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))


def score_sentences(
    top: Sequence[tuple[int, float]],
    passages: dict[int, Passage],
    weights: dict[str, float],
    s: AnswerSettings = SETTINGS,
) -> list[list[ScoredSentence]]:
    """Every sentence of the ranked passages with its score; fragments (a byline, "Photo: AP")
    are skipped."""
    ranked: list[list[ScoredSentence]] = []
    for rank, (pid, pscore) in enumerate(top):
        sentences = []
        for i, sent in enumerate(split_sentences(passages[pid].text)):
            if len(sent.text.split()) < 3 and len(sent.text) < 20:
                continue
            cov = term_coverage(weights, stems(sent.text))
            sentences.append(
                ScoredSentence(
                    pid, rank, i, sent.start, sent.end, sent.text, cov, pscore, sentence_score(pscore, cov, i, s)
                )
            )
        ranked.append(sentences)
    return ranked


def recency_boost(published: dt.date | None, today: dt.date, s: AnswerSettings = SETTINGS) -> float:
    """Documents dated near "now" score higher: news questions are about the present (the top
    complaint about peers is "latest" questions answered from old material). Undated: no boost."""
    if published is None:
        return 0.0
    return s.recency_weight * math.exp(-abs((today - published).days) / s.recency_days)


# ---------------------------------------------------------------------------- the answer


@dataclass(frozen=True)
class Restriction:
    """Documents hidden from one question without re-indexing, so an evaluation can turn an
    answerable question into a near miss: its own documents left out (leave-gold-out), or only
    documents dated before a day (a time split; undated documents drop out too)."""

    exclude_documents: frozenset[int] = frozenset()
    before: dt.date | None = None


@dataclass
class Reading:
    """Everything ``read_question`` found before deciding: the evidence for the refusal model,
    the sentences it would quote. ``reply`` is set when the question got a reply of its own
    (a greeting, nothing to search, nothing found) and there is nothing to decide."""

    question: str
    text: str = ""
    cut: bool = False
    resolved: str = ""
    intent: DateIntent = field(default_factory=DateIntent)
    rows: dict[int, tuple[Passage, Document]] | None = None
    top: list[tuple[int, float]] | None = None
    ranked: list[list[ScoredSentence]] | None = None
    chosen: list[ScoredSentence] | None = None
    evidence: Evidence | None = None
    phrase_found: bool = False
    reply: Answer | None = None


async def read_question(
    corpus: Corpus,
    question: str,
    *,
    scope: int | None = None,
    history: Sequence[str] = (),
    now: dt.datetime | None = None,
    settings: AnswerSettings = SETTINGS,
    restrict: Restriction | None = None,
) -> Reading:
    """Retrieval, sentence scoring and the refusal evidence for a question (steps 1-3)."""
    now = now or dt.datetime.now(dt.UTC)
    question = normalise_question(question)
    text, cut = clean_question(question)
    if not text or not retrieval.query_terms(text) and not is_greeting(text):
        return Reading(
            question,
            reply=Answer(
                question=question,
                abstained=True,
                citations=[],
                text="Ask me a question about the documents, for example: "
                "“What did the experts say about China's role in Central Asia?”",
            ),
        )
    if is_greeting(text):
        return Reading(
            question,
            reply=Answer(
                question=question,
                abstained=False,
                citations=[],
                text="Hello! Ask me anything about the documents and I will answer with the passages that support it.",
            ),
        )

    resolved = resolve_follow_up(text, history)
    intent = parse_date_intent(resolved, now=now)
    query = intent.query
    cands = await _restricted_candidates(corpus, query, scope, intent, restrict)
    fused = retrieval.fuse_scores(cands.dense, cands.bm25)
    if not fused:
        return Reading(question, reply=_refusal(question, resolved, intent, [], why=_nothing_found(intent)))

    pool = retrieval.top_k(fused, PASSAGES_READ * 3)
    rows = await corpus.store.passages_with_documents([pid for pid, _ in pool])
    phrases = retrieval.quoted_phrases(text)
    scores = _prefer({pid: score for pid, score in pool if pid in rows}, phrases, intent, rows, now.date(), settings)
    top = retrieval.top_k(scores, PASSAGES_READ)
    retrieval_order = [pid for pid, _ in pool if pid in rows][:3]
    if not top:  # every candidate was removed between ranking and loading
        return Reading(question, reply=_refusal(question, resolved, intent, [], why=_nothing_found(intent)))

    # Stemming is CPU work (and the stemmer's first use imports NLTK): off the event loop.
    q_stems = await asyncio.to_thread(stems, query)
    # Term statistics from the index the candidates were scored on, not a later one.
    counts, total = await retrieval.term_statistics(corpus, cands, sorted(q_stems))

    def read() -> tuple[list[list[ScoredSentence]], list[ScoredSentence], Evidence]:
        # Sentence splitting and scoring are CPU work: one trip off the event loop for all of it.
        weights = {t: idf(counts.get(t, 0), total or 1) for t in q_stems}
        ranked = score_sentences(top, {pid: rows[pid][0] for pid, _ in top}, weights, settings)
        chosen = select_sentences(ranked, s=settings)
        best = top[0][0]
        passage, doc = rows[best]
        document_of = {pid: d.id for pid, (_, d) in rows.items()}
        floor = min(cands.dense.values(), default=0.0)
        evidence = gather_evidence(
            cands.dense,
            weights,
            {t for t in q_stems if counts.get(t, 0) == 0},
            [stems(rows[pid][0].text) for pid in retrieval_order],
            question=resolved,
            cited_text=f"{doc.title}\n{passage.text}",
            answer_sentences=[c.text for c in chosen],
            cited_date=doc.published,
            today=now.date(),
            margin=lead_over_rest(scores, best, document_of),
            dense_margin=lead_over_rest({pid: cands.dense.get(pid, floor) for pid in scores}, best, document_of),
            sentence_coverage=max((c.coverage for c in chosen), default=0.0),
            cited_cosine=cands.dense.get(best, floor),
            fresh_cosine=_fresh_cosine(cands.dense, rows, now.date(), intent),
        )
        return ranked, chosen, evidence

    ranked, chosen, evidence = await asyncio.to_thread(read)
    if not any(ranked):
        return Reading(
            question, reply=_refusal(question, resolved, intent, _related(rows, top), why=_nothing_found(intent))
        )
    phrase_found = bool(phrases) and any(p.lower() in rows[top[0][0]][0].text.lower() for p in phrases)
    return Reading(
        question,
        text=text,
        cut=cut,
        resolved=resolved,
        intent=intent,
        rows=rows,
        top=top,
        ranked=ranked,
        chosen=chosen,
        evidence=evidence,
        phrase_found=phrase_found,
    )


def _fresh_cosine(
    dense: dict[int, float], rows: dict[int, tuple[Passage, Document]], today: dt.date, intent: DateIntent
) -> float:
    """Best cosine among the read passages from the time the question implies: its date window when
    it names one (retrieval kept only those), else about now (news questions are about now): full
    weight within FRESH_DAYS of today, fading to nothing over the next FRESH_FADE_DAYS, so a fact
    from a fortnight ago still counts for something. Undated passages count as fresh: no evidence
    against them."""
    floor = min(dense.values(), default=0.0)
    best = floor
    for pid, (_, doc) in rows.items():
        cosine = dense.get(pid, floor)
        if intent.window or doc.published is None:
            weight = 1.0
        else:
            days = abs((today - doc.published).days)
            weight = min(1.0, max(0.0, 1.0 - (days - FRESH_DAYS) / FRESH_FADE_DAYS))
        best = max(best, floor + weight * (cosine - floor))
    return best


async def _restricted_candidates(
    corpus: Corpus, query: str, scope: int | None, intent: DateIntent, restrict: Restriction | None
) -> retrieval.Candidates:
    if restrict is None:
        return await retrieval.candidates(
            corpus, query, scope=scope, date_from=intent.date_from, date_to=intent.date_to
        )
    date_to = intent.date_to
    if restrict.before is not None:
        last = restrict.before - dt.timedelta(days=1)
        date_to = last if date_to is None else min(date_to, last)
    hidden = {p.id for p in await corpus.store.passages_of_documents(sorted(restrict.exclude_documents))}
    # Asking for as many more candidates as are hidden, then dropping them, gives exactly the
    # candidates of an index without them.
    n = retrieval.CANDIDATES + len(hidden)
    cands = await retrieval.candidates(corpus, query, scope=scope, date_from=intent.date_from, date_to=date_to, n=n)

    def keep(side: dict[int, float]) -> dict[int, float]:
        return dict(retrieval.top_k({p: s for p, s in side.items() if p not in hidden}, retrieval.CANDIDATES))

    return retrieval.Candidates(
        dense=keep(cands.dense), bm25=keep(cands.bm25), query_vector=cands.query_vector, snapshot=cands.snapshot
    )


def decide(reading: Reading, settings: AnswerSettings = SETTINGS, *, confidence: float | None = None) -> Answer:
    """Answer or refuse (steps 4-5). ``confidence``: a probability from another refusal model (for
    evaluation); by default the shipped one."""
    if reading.reply is not None:
        return reading.reply
    question, resolved, intent, rows, top = (
        reading.question,
        reading.resolved,
        reading.intent,
        reading.rows,
        reading.top,
    )
    # A reading without a reply has read the passages: all of these are set.
    assert reading.evidence is not None and rows is not None and top is not None and reading.chosen is not None
    conf = answerability(reading.evidence) if confidence is None else confidence
    if reading.phrase_found:
        conf = max(conf, 0.9)  # the exact words the user quoted are there: that is the answer's place
    if conf < settings.abstain_below:
        why = _nothing_found(intent) if intent.window else "I couldn't find this in the documents."
        return _refusal(question, resolved, intent, _related(rows, top), confidence=conf, why=why)

    citations, parts = _cite(reading.chosen, rows)
    body = " ".join(parts)
    if reading.cut:
        body = f"(Your question was long; I used its first {MAX_QUESTION_CHARS} characters.) " + body
    if intent.window or intent.recency:
        dated = sorted({(c.published, c.published_precision) for c in citations if c.published}, reverse=True)
        shown = list(dict.fromkeys(format_date(d, p) for d, p in dated))
        when = ", ".join(shown[:3]) or "undated"
        body = f"{body}\n(Sources dated {when}; you asked for {intent.describe()}.)"
    return Answer(
        question=question,
        text=body,
        citations=citations,
        abstained=False,
        resolved_question=resolved if resolved != reading.text else "",
        date_from=intent.date_from,
        date_to=intent.date_to,
        confidence=round(conf, 4),
    )


def _prefer(
    scores: dict[int, float],
    phrases: list[str],
    intent: DateIntent,
    rows: dict[int, tuple[Passage, Document]],
    today: dt.date,
    settings: AnswerSettings = SETTINGS,
) -> dict[int, float]:
    """Boosts on top of retrieval, applied only to candidates retrieval already found: a passage
    holding a quoted phrase exactly, documents dated near today, and for "latest" questions the
    newest of the candidates."""
    out = dict(scores)
    dated = sorted({d.published for _, d in rows.values() if d.published}, reverse=True)
    for pid in out:
        passage, doc = rows[pid]
        if phrases and any(p.lower() in passage.text.lower() for p in phrases):
            out[pid] += 1.0
        out[pid] += recency_boost(doc.published, today, settings)
        if intent.recency and doc.published:
            out[pid] += 1.0 - dated.index(doc.published) / max(1, len(dated))
    return out


def _cite(
    chosen: Sequence[ScoredSentence], rows: dict[int, tuple[Passage, Document]]
) -> tuple[list[Citation], list[str]]:
    """One citation per passage (numbered in reading order) quoting its chosen sentences; each
    answer sentence carries its passage's marker."""
    numbers: dict[int, int] = {}
    spans: dict[int, list[ScoredSentence]] = {}
    parts = []
    for sent in chosen:
        n = numbers.setdefault(sent.passage_id, len(numbers) + 1)
        spans.setdefault(sent.passage_id, []).append(sent)
        parts.append(f"{sent.text} [{n}]")
    citations = []
    for pid, n in numbers.items():
        passage, doc = rows[pid]
        group = spans[pid]
        start, end = min(s.start for s in group), max(s.end for s in group)
        citations.append(_citation(n, passage, doc, start, end, max(s.score for s in group)))
    return citations, parts


def _citation(number: int, passage: Passage, doc: Document, start: int, end: int, score: float) -> Citation:
    span = (passage.char_start + start, passage.char_start + end)
    return Citation.of(
        number, doc, passage, passage.text[start:end], _paragraph_of(passage, start), span, round(float(score), 4)
    )


def _paragraph_of(passage: Passage, offset: int) -> int:
    """Paragraph of an offset inside a passage that may span several (joined by a blank line)."""
    return passage.paragraph_index + passage.text.count("\n\n", 0, offset)


def _related(rows: dict[int, tuple[Passage, Document]], top: Sequence[tuple[int, float]]) -> list[Citation]:
    out = []
    for pid, score in top[:RELATED_SHOWN]:
        passage, doc = rows[pid]
        first = split_sentences(passage.text)
        end = first[min(1, len(first) - 1)].end if first else len(passage.text)
        out.append(_citation(len(out) + 1, passage, doc, 0, end, score))
    return out


def _nothing_found(intent: DateIntent) -> str:
    if intent.window:
        return f"I found nothing in the documents dated {intent.describe()} about this."
    return "I couldn't find this in the documents."


def _refusal(
    question: str, resolved: str, intent: DateIntent, related: list[Citation], *, why: str, confidence: float = 0.0
) -> Answer:
    text = why
    if related:
        text += " These passages are the closest I have; they may be related:"
    return Answer(
        question=question,
        text=text,
        citations=[],
        abstained=True,
        related=related,
        resolved_question=resolved if resolved != question else "",
        date_from=intent.date_from,
        date_to=intent.date_to,
        confidence=round(confidence, 4),
    )
