"""Hybrid retrieval: the search index's two sides (``backends.interface.SearchIndex``: BM25 with the
lexical spec's formula and tokens, and cosine over the passages' vectors) fused by pure functions
over ids and scores. User text reaches FTS5 only quoted term by term (``fts_match_expression``).

Why not plain reciprocal rank fusion: measured on realtimeqa-dev it *loses* to dense alone (0.730 vs
0.748 nDCG@10 here), because it gives a weak BM25 list as much say as a strong dense one and ignores
how clearly a side prefers its top passage. We fuse standardised scores instead (``fuse_scores``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .dates import parse_date_intent
from .models import Document, Passage, SearchHit
from .termweights import ABBREVIATIONS, same_sense
from .text import STOPWORDS, index_tokens

if TYPE_CHECKING:
    from .corpus import Corpus

# How many candidates each side hands to fusion.
CANDIDATES = 100


def passage_embedding_text(title: str, text: str) -> str:
    """What the dense side embeds for a passage: the title gives a short passage its topic."""
    title = title.replace("_", " ").strip()
    return f"{title}. {text}" if title else text


# ---------------------------------------------------------------------------- BM25 side

# A number with its decimal point or thousands separator is one word ("4.2", "7,000"): split, its
# parts met any "2" or "000" ("When did version 4.2 come out?" chose version 4.1 of October 2).
_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|\w+", re.UNICODE)
_PHRASE = re.compile(r"[\"“”]([^\"“”]{2,200})[\"“”]")


# The letter of a model's name: "Aurora M", "Model S", "Plan B" (not "I" or "A", which are words).
_MODEL_LETTER = re.compile(r"\b[A-Z][\w-]*\s+([B-HJ-Z])\b")


_INITIALS = re.compile(r"\b[A-Z]{2,3}\b")
# Not "AND", "OR", "NOT" (typed as search syntax) or "AM": the stopwords that are initials too.
_STOPWORD_INITIALS = frozenset({"us", "it", "who"})


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
_ORDINAL_ITEM = re.compile(rf"\b({'|'.join(_ORDINALS)})\s+(?:step|item|point|stage|phase|clause|rule|question|task)\b")


def query_terms(question: str) -> list[str]:
    """Content words of a question, lowercased, in order, without duplicates. A single letter is a
    word only as a digit or a model's letter: "How much does the Aurora M cost?" got the Aurora S."""
    letters = {m.lower() for m in _MODEL_LETTER.findall(question)}
    # "US", "IT", "WHO" in capitals name something, though "us", "it" and "who" are stopwords:
    # "How much can I spend on meals in the US?" quoted Germany's allowance.
    initials = set() if question.isupper() else {m.lower() for m in _INITIALS.findall(question)} & _STOPWORD_INITIALS
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(question.lower()):
        if (token not in STOPWORDS or token in initials) and (len(token) > 1 or token.isdigit() or token in letters):
            seen.setdefault(token, None)
    # "What is the second step?": a list's item is numbered ("2. Restart the API pods").
    for ordinal in _ORDINAL_ITEM.findall(question.lower()):
        seen.setdefault(str(_ORDINALS.index(ordinal) + 1), None)
    return list(seen)


def quoted_phrases(question: str) -> list[str]:
    return [m.group(1).strip() for m in _PHRASE.finditer(question) if m.group(1).strip()]


def fts_match_expression(question: str, *, max_terms: int = 32) -> str | None:
    """An FTS5 MATCH expression for free text: every term double-quoted (so quotes, ``*``, ``-``,
    ``NEAR``, ``AND``/``OR``/``NOT`` and parentheses in user text are plain words, never syntax) and
    joined by OR, which BM25 then ranks. None when nothing searchable is left."""
    terms = query_terms(question)[:max_terms]
    if not terms:
        return None
    return " OR ".join(f'"{t}"' for t in terms)


# ---------------------------------------------------------------------------- fusion (pure)


def rrf(rankings: Sequence[Sequence[int]], k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion: sum of 1 / (k + rank), rank starting at 1."""
    out: dict[int, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking, start=1):
            out[pid] = out.get(pid, 0.0) + 1.0 / (k + rank)
    return out


def standardise(scores: Mapping[int, float]) -> dict[int, float]:
    """z-scores over one query's candidate list: (s - mean) / std. A side whose scores are bunched
    together (no clear winner) moves the fused ranking little; a clear outlier moves it a lot."""
    if not scores:
        return {}
    values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
    mean, std = float(values.mean()), float(values.std())
    if std < 1e-9:
        return {pid: 0.0 for pid in scores}
    return {pid: (s - mean) / std for pid, s in scores.items()}


@dataclass(frozen=True)
class FusionWeights:
    """``fused = z(dense cosine) + bm25_weight * z(bm25)``, z-scores over each side's candidates.

    Both sides standardised per query, so neither scale dominates (BM25's scale depends on the query,
    cosine's on the corpus). The weight was chosen on the dev sets, where it beat the better single
    side on both: realtimeqa-dev (dense-favoured) 0.775 vs 0.748, xquad-en (BM25-favoured) 0.977 vs
    0.968 nDCG@10; plain RRF gave 0.730 and 0.968 (README, "Retrieval")."""

    bm25_weight: float = 0.5


def fuse_scores(
    dense: Mapping[int, float],
    bm25: Mapping[int, float],
    weights: FusionWeights = FusionWeights(),
    *,
    bm25_exhaustive: bool = False,
) -> dict[int, float]:
    """Weighted sum of standardised scores over the union of both candidate lists; a candidate
    missing from one side gets that side's lowest standardised score (it ranked below all of them).
    ``bm25_exhaustive``: BM25 returned every passage holding a word of the query (fewer than asked
    for), so one it lacks holds none: while the dense side has found little meaning (its weight
    under 1), those score 0 and are standardised with the rest. "Lagarde", in one passage of a small
    collection, was otherwise one deviation above the rest, and the dense side's noise outvoted it.
    Where the dense side is sure, its say stands as it was: near misses (another article's lone
    rare word) otherwise rose enough to cost `eval refusals` 0.006."""
    w = meaning_weight(dense)
    if bm25_exhaustive and bm25 and w < 1.0:
        bm25 = {pid: bm25.get(pid, 0.0) for pid in sorted(set(dense) | set(bm25))}
    dz, bz = standardise(dense), standardise(bm25)
    dense_floor, bm25_floor = _floor(dz), _floor(bz)
    return {
        pid: w * dz.get(pid, dense_floor) + weights.bm25_weight * bz.get(pid, bm25_floor) for pid in set(dz) | set(bz)
    }


# Below this best cosine the dense side has found nothing the question means (a name the model does
# not know, "Lagarde"; a line of nonsense), and standardising would blow its noise up to the scale
# of a real preference: 0.11 against 0.02 outvoted the one passage that names Lagarde. Its weight
# rises from 0 there to 1 at MEANINGFUL_COSINE. The dev sets' questions nearly all find more (99%
# of the answerable ones have a cosine over 0.2 with the passage they cite): nDCG@10 moved 0.0002.
NOISE_COSINE = 0.1
MEANINGFUL_COSINE = 0.3


def meaning_weight(dense: Mapping[int, float]) -> float:
    """How much the dense side's ranking counts, from its best cosine (absolute, not relative to
    the collection)."""
    if not dense:
        return 1.0
    best = max(dense.values())
    return min(1.0, max(0.0, (best - NOISE_COSINE) / (MEANINGFUL_COSINE - NOISE_COSINE)))


def _floor(z: Mapping[int, float]) -> float:
    """The score of a candidate a side did not return: its lowest. When every returned candidate
    scored alike (a lone BM25 match on a rare name), standardising gives them all 0, so the missing
    ones are put one deviation lower: being found must count."""
    if not z:
        return 0.0
    low = min(z.values())
    return low - 1.0 if max(z.values()) == low else low


@dataclass(frozen=True)
class RecencyPrior:
    """A search asked at a known time ranks as it would have then: news questions are about "now".
    A passage gets ``weight * exp(-age_days / days)`` on top of its fused z-score, so the prior
    breaks near-ties towards recent documents without overruling a clear match (0.5 is half a
    standard deviation). The decay is the answers' one (``AnswerSettings.recency_days``); the weight
    is milder than theirs (1.5) because a search list should still show older matches. Measured
    on realtimeqa-dev: README, "Retrieval"."""

    weight: float = 0.5
    days: float = 14.0


RECENCY = RecencyPrior()


def as_of(
    scores: Mapping[int, float],
    published: Mapping[int, dt.date | None],
    today: dt.date,
    prior: RecencyPrior = RECENCY,
) -> dict[int, float]:
    """Scores as they stood on ``today``: passages of documents published after it are dropped
    (nobody asking then could have read them), the rest raised by the recency prior. Undated
    passages (or ones missing from ``published``) stay, without a boost: no evidence either way."""
    out: dict[int, float] = {}
    for pid, score in scores.items():
        day = published.get(pid)
        if day is None:
            out[pid] = score
        elif day <= today:
            out[pid] = score + prior.weight * math.exp(-(today - day).days / prior.days)
    return out


def intersect_window(
    date_from: dt.date | None, date_to: dt.date | None, other_from: dt.date | None, other_to: dt.date | None
) -> tuple[dt.date | None, dt.date | None]:
    """The days inside both windows (None: open on that side)."""
    lo = max((d for d in (date_from, other_from) if d is not None), default=None)
    hi = min((d for d in (date_to, other_to) if d is not None), default=None)
    return lo, hi


def top_k(scores: Mapping[int, float], k: int) -> list[tuple[int, float]]:
    """Best ``k`` by score, ties broken by id so results are stable."""
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


# ---------------------------------------------------------------------------- search


@dataclass(frozen=True)
class Candidates:
    """Both sides' raw candidate scores for one query (kept for evaluation and answers), and the
    moment of the index they were scored on (``Scored.view``): later steps (term statistics of an
    answer) read the same one."""

    dense: dict[int, float]
    bm25: dict[int, float]
    query_vector: np.ndarray
    snapshot: object = None
    # BM25 returned fewer than asked for: every passage holding a word of the query is in ``bm25``,
    # and any other scores 0 (``fuse_scores``).
    bm25_exhaustive: bool = False


def search_words(query: str) -> str:
    """The BM25 side's words of a query: its content words, at most 32, the words of the
    initials news writes for them either way ("CEO" and "chief executive": "Who is the CEO of
    Helvia?" found no passage saying "Chief executive Anna Keller"), and the other words of a toll
    or a result (``termweights.SAME_SENSE``: "killed" finds "deaths")."""
    terms = query_terms(query)[:32]
    spelled = " ".join(terms)
    extra = [
        word
        for t in terms
        if t in ABBREVIATIONS and not re.search(rf"\d\s*{t}\b", query, re.I)  # "7 pm" is no prime minister
        for word in ABBREVIATIONS[t].split()
    ]
    extra += [initials for initials, words in ABBREVIATIONS.items() if f" {words} " in f" {spelled} "]
    extra += [word for t in terms for word in same_sense(t)]  # "killed" finds "deaths"
    return " ".join(dict.fromkeys(terms + extra))


def search_tokens(query: str) -> list[str]:
    """The BM25 side's terms of a query: its content words as the index tokenises them."""
    return index_tokens(search_words(query))


async def candidates(
    corpus: Corpus,
    query: str,
    *,
    scope: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    n: int = CANDIDATES,
    query_vector: np.ndarray | None = None,
) -> Candidates:
    embedder = corpus.embedder

    def embed_and_tokenise() -> tuple[np.ndarray, list[str]]:
        return (embedder.encode([query])[0] if query_vector is None else query_vector), search_tokens(query)

    # Embedded first (the question may wait for a bulk batch), then scored: the index is read as
    # it stands at scoring, never as it stood before the wait.
    vector, terms = await asyncio.to_thread(embed_and_tokenise)
    found = await corpus.index.search(
        vector, terms, n, scope=scope, date_from=date_from, date_to=date_to, words=search_words(query)
    )
    return Candidates(
        dense=dict(found.dense),
        bm25=dict(found.bm25),
        query_vector=vector,
        snapshot=found.view,
        bm25_exhaustive=len(found.bm25) < n,
    )


async def term_statistics(corpus: Corpus, cands: Candidates, terms: Sequence[str]) -> tuple[dict[str, int], int]:
    """Document frequencies of ``terms`` and the passage count, from the index the candidates were
    scored on (in memory: the same snapshot, not a later one)."""
    return await corpus.index.term_statistics(terms, cands.snapshot)


async def stored_vectors(corpus: Corpus, pids: Sequence[int]) -> dict[int, np.ndarray]:
    """The stored vectors of passages (those with one of the current model)."""
    return await corpus.index.vectors(pids)


async def search(
    corpus: Corpus,
    query: str,
    *,
    k: int = 10,
    scope: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    weights: FusionWeights = FusionWeights(),
    now: dt.datetime | dt.date | None = None,
    prior: RecencyPrior = RECENCY,
) -> list[SearchHit]:
    """The best ``k`` passages. ``now``: the time of asking. With it, date words in the query
    ("this week", "in 2022") narrow the window as they do for answers (``dates.parse_date_intent``),
    and the ranking is the one as of then (``as_of``). Without it, no time preference."""
    query = (query or "").strip()
    if not query:
        return []
    if now is None:
        cands = await candidates(corpus, query, scope=scope, date_from=date_from, date_to=date_to)
        fused = fuse_scores(cands.dense, cands.bm25, weights, bm25_exhaustive=cands.bm25_exhaustive)
        return await hits(corpus, top_k(fused, k), cands)
    intent = parse_date_intent(query, now=now)
    date_from, date_to = intersect_window(date_from, date_to, intent.date_from, intent.date_to)
    if date_from is not None and date_to is not None and date_from > date_to:
        return []
    cands = await candidates(corpus, intent.query, scope=scope, date_from=date_from, date_to=date_to)
    fused = fuse_scores(cands.dense, cands.bm25, weights, bm25_exhaustive=cands.bm25_exhaustive)
    # Every candidate's date is needed before ranking: one read, reused for the hits.
    rows = await corpus.store.passages_with_documents(list(fused))
    published = {pid: doc.published for pid, (_, doc) in rows.items()}
    today = now.date() if isinstance(now, dt.datetime) else now
    ranked = top_k(as_of({pid: s for pid, s in fused.items() if pid in rows}, published, today, prior), k)
    return await hits(corpus, ranked, cands, rows=rows)


async def hits(
    corpus: Corpus,
    ranked: Sequence[tuple[int, float]],
    cands: Candidates,
    *,
    rows: Mapping[int, tuple[Passage, Document]] | None = None,
) -> list[SearchHit]:
    if rows is None:
        rows = await corpus.store.passages_with_documents([pid for pid, _ in ranked])
    dense_rank = {pid: i for i, pid in enumerate(sorted(cands.dense, key=lambda p: -cands.dense[p]), 1)}
    bm25_rank = {pid: i for i, pid in enumerate(sorted(cands.bm25, key=lambda p: -cands.bm25[p]), 1)}
    out = []
    for pid, score in ranked:
        if pid not in rows:  # removed between ranking and loading
            continue
        passage, document = rows[pid]
        out.append(
            SearchHit(
                passage=passage,
                document=document,
                score=round(score, 6),
                bm25_rank=bm25_rank.get(pid),
                dense_rank=dense_rank.get(pid),
                dense_score=cands.dense.get(pid),
            )
        )
    return out


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    """nDCG@k with graded relevance (BEIR's definition: gain = rel, discount = log2(rank + 1))."""
    dcg = sum(relevant.get(d, 0.0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0
