"""Hybrid retrieval: BM25 (FTS5's formula and tokens, scored from in-memory postings; see
``LexicalIndex``) plus exact cosine over an in-memory float32 matrix, fused by pure functions over
ids and scores. User text reaches FTS5 only quoted term by term (``fts_match_expression``).

Why not plain reciprocal rank fusion: measured on realtimeqa-dev it *loses* to dense alone (0.730 vs
0.748 nDCG@10 here), because it gives a weak BM25 list as much say as a strong dense one and ignores
how clearly a side prefers its top passage. We fuse standardised scores instead (``fuse_scores``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .models import SearchHit
from .scope import GLOBAL_SCOPE, scope_of
from .text import STOPWORDS, index_tokens

if TYPE_CHECKING:
    from .service import KnowledgeBase

# How many candidates each side hands to fusion.
CANDIDATES = 100


def passage_embedding_text(title: str, text: str) -> str:
    """What the dense side embeds for a passage: the title gives a short passage its topic."""
    title = title.replace("_", " ").strip()
    return f"{title}. {text}" if title else text


# ---------------------------------------------------------------------------- BM25 side

_TOKEN = re.compile(r"\w+", re.UNICODE)
_PHRASE = re.compile(r"[\"“”]([^\"“”]{2,200})[\"“”]")


def query_terms(question: str) -> list[str]:
    """Content words of a question, lowercased, in order, without duplicates."""
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(question.lower()):
        if token not in STOPWORDS and (len(token) > 1 or token.isdigit()):
            seen.setdefault(token, None)
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


# ---------------------------------------------------------------------------- dense side


class DenseIndex:
    """Float32 matrix of L2-normalised passage vectors with the columns search filters on.
    Rows are appended into spare capacity (amortised O(1)), removed rows are masked; exact cosine
    is one matrix-vector product.

    Readers work on a ``DenseView`` (``view()``): rows below its ``n`` are never written again, growth
    allocates new arrays, and removal replaces the alive mask instead of editing it (copy on write),
    so a view stays valid and unchanged while the index grows. Not safe for two writers at once;
    ``HybridIndex`` serialises them."""

    def __init__(self, pids: np.ndarray | None = None, dids: np.ndarray | None = None,
                 gids: np.ndarray | None = None, days: np.ndarray | None = None,
                 matrix: np.ndarray | None = None) -> None:
        n = 0 if pids is None else len(pids)
        dim = matrix.shape[1] if matrix is not None and matrix.size else 0
        self._n = n
        self._dim = dim
        cap = max(n, 1024)
        self._pids = np.zeros(cap, dtype=np.int64)
        self._dids = np.zeros(cap, dtype=np.int64)
        self._gids = np.full(cap, GLOBAL_SCOPE, dtype=np.int64)
        self._days = np.zeros(cap, dtype=np.int32)
        self._alive = np.zeros(cap, dtype=bool)
        self._matrix = np.zeros((cap, dim), dtype=np.float32)
        if n:
            self._pids[:n], self._dids[:n], self._gids[:n], self._days[:n] = pids, dids, gids, days
            self._alive[:n] = True
            self._matrix[:n] = matrix

    def __len__(self) -> int:
        return int(self._alive[: self._n].sum())

    @property
    def rows(self) -> int:
        """Rows ever added (removed ones included): the row count the lexical side must match."""
        return self._n

    def view(self) -> "DenseView":
        return DenseView(self._n, self._dim, self._pids, self._dids, self._gids, self._days, self._alive,
                         self._matrix)

    def _grow(self, need: int, dim: int) -> None:
        if self._dim == 0:
            self._dim = dim
            self._matrix = np.zeros((len(self._pids), dim), dtype=np.float32)
        cap = len(self._pids)
        if need <= cap:
            return
        new_cap = max(need, cap * 2)
        for name in ("_pids", "_dids", "_gids", "_days", "_alive"):
            old = getattr(self, name)
            fresh = np.zeros(new_cap, dtype=old.dtype)
            if name == "_gids":
                fresh[:] = GLOBAL_SCOPE
            fresh[:cap] = old
            setattr(self, name, fresh)
        matrix = np.zeros((new_cap, self._dim), dtype=np.float32)
        matrix[:cap] = self._matrix
        self._matrix = matrix

    def add(self, pids: Sequence[int], did: int, gid: int | None, published: dt.date | None,
            vectors: np.ndarray) -> None:
        if not len(pids):
            return
        self._grow(self._n + len(pids), vectors.shape[1])
        a, b = self._n, self._n + len(pids)
        self._pids[a:b] = pids
        self._dids[a:b] = did
        self._gids[a:b] = scope_of(gid)
        self._days[a:b] = published.toordinal() if published else 0
        self._alive[a:b] = True
        self._matrix[a:b] = vectors
        self._n = b

    def remove_document(self, did: int) -> None:
        alive = self._alive.copy()  # copy on write: views taken earlier keep their mask
        alive[: self._n] &= self._dids[: self._n] != did
        self._alive = alive

    def mask(self, scope: int | None, date_from: dt.date | None, date_to: dt.date | None) -> np.ndarray:
        return self.view().mask(scope, date_from, date_to)

    def search(self, query: np.ndarray, k: int, *, scope: int | None = None,
               date_from: dt.date | None = None, date_to: dt.date | None = None,
               keep: np.ndarray | None = None) -> list[tuple[int, float]]:
        return self.view().search(query, k, scope=scope, date_from=date_from, date_to=date_to, keep=keep)

    def pid(self, row: int) -> int:
        return int(self._pids[row])

    def vectors(self, pids: Sequence[int]) -> dict[int, np.ndarray]:
        return self.view().vectors(pids)


@dataclass(frozen=True)
class DenseView:
    """The dense index as it was at one moment: its first ``n`` rows, which no writer touches."""

    n: int
    dim: int
    pids: np.ndarray
    dids: np.ndarray
    gids: np.ndarray
    days: np.ndarray
    alive: np.ndarray
    matrix: np.ndarray

    def __len__(self) -> int:
        return int(self.alive[: self.n].sum())

    def mask(self, scope: int | None, date_from: dt.date | None, date_to: dt.date | None) -> np.ndarray:
        n = self.n
        keep = self.alive[:n].copy()
        if scope is not None:
            gids = self.gids[:n]
            keep &= (gids == GLOBAL_SCOPE) | (gids == scope)
        if date_from is not None:
            keep &= self.days[:n] >= date_from.toordinal()
        if date_to is not None:
            days = self.days[:n]
            keep &= (days > 0) & (days <= date_to.toordinal())
        return keep

    def search(self, query: np.ndarray, k: int, *, scope: int | None = None,
               date_from: dt.date | None = None, date_to: dt.date | None = None,
               keep: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(passage id, cosine) of the ``k`` best rows that pass the filters (or ``keep``, a mask
        from ``mask`` of this same view), best first."""
        n = self.n
        if n == 0 or self.dim == 0:
            return []
        keep = self.mask(scope, date_from, date_to) if keep is None else keep
        if len(keep) != n:
            raise ValueError(f"mask of {len(keep)} rows for a view of {n}: masks must come from the same view")
        scores = self.matrix[:n] @ query.astype(np.float32)
        if not keep.all():
            scores = np.where(keep, scores, -np.inf)
        k = min(k, int(keep.sum()))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.pids[i]), float(scores[i])) for i in top]

    def vectors(self, pids: Sequence[int]) -> dict[int, np.ndarray]:
        want = set(pids)
        n = self.n
        rows = np.nonzero(np.isin(self.pids[:n], list(want)) & self.alive[:n])[0]
        return {int(self.pids[i]): self.matrix[i] for i in rows}


class LexicalIndex:
    """BM25 over the same rows as ``DenseIndex``, held in memory as postings (row, term frequency).

    Why not FTS5's ``bm25()`` (which is still the on-disk index and the reference this matches):
    with ``OR`` queries it scores every passage holding any query term and has no top-k pruning,
    measured at ~80 ms a query over 100,000 passages on this CPU with nothing else running, most of
    the 50 ms budget. Here a query costs a few array operations over the postings of its terms.
    The formula and tokens are FTS5's (k1 = 1.2, b = 0.75, IDF log((N - n + 0.5) / (n + 0.5)),
    the title counting ``title_weight`` of a text hit; ``porter unicode61 remove_diacritics 2``
    tokens), so rankings agree with ``Store.fts_search`` (a test checks it). Removed rows are masked
    by the caller; they keep counting in N and n, a drift too small to matter between restarts.

    Readers use a ``LexicalView``: postings are appended in row order as (rows, tfs) pairs (one
    object, so a reader never pairs one chunk's rows with another's frequencies) and a view cuts
    them at its own row count, so rows added after it was taken are invisible to it."""

    K1 = 1.2
    B = 0.75

    def __init__(self, title_weight: float = 0.5) -> None:
        self.title_weight = title_weight
        self._postings: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._lengths = np.zeros(1024, dtype=np.float32)
        self._n = 0
        self._total = 0.0

    def __len__(self) -> int:
        return self._n

    def view(self) -> "LexicalView":
        return LexicalView(self._n, self._total, self._lengths, self._postings, self.K1, self.B)

    def tokenise(self, texts: Sequence[tuple[str, str]]) -> list[tuple[dict[str, float], int]]:
        """Per (title, text): term frequencies and length. The slow, pure part of ``add``, done
        before any row is written so a failure leaves the index untouched."""
        out = []
        for title, text in texts:
            body, head = index_tokens(text), index_tokens(title) if title else []
            counts: dict[str, float] = {}
            for t in body:
                counts[t] = counts.get(t, 0.0) + 1.0
            for t in head:
                counts[t] = counts.get(t, 0.0) + self.title_weight
            out.append((counts, len(body) + len(head)))
        return out

    def add(self, texts: Sequence[tuple[str, str]]) -> None:
        """Append rows for (title, text) pairs, in the order their vectors were added to the dense
        index, so row numbers agree."""
        self.add_tokenised(self.tokenise(texts))

    def add_tokenised(self, rows: Sequence[tuple[dict[str, float], int]]) -> None:
        start = self._n
        if start + len(rows) > len(self._lengths):
            grown = np.zeros(max(start + len(rows), 2 * len(self._lengths)), dtype=np.float32)
            grown[:start] = self._lengths[:start]
            self._lengths = grown  # a new array: views keep the old one, whose rows they read
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for offset, (counts, length) in enumerate(rows):
            row = start + offset
            for t, tf in counts.items():
                rs, tfs = postings.setdefault(t, ([], []))
                rs.append(row)
                tfs.append(tf)
            self._lengths[row] = length
            self._total += length
        for t, (rs, tfs) in postings.items():
            chunk = (np.array(rs, dtype=np.int32), np.array(tfs, dtype=np.float32))
            chunks = self._postings.get(t)
            if chunks is None:
                self._postings[t] = [chunk]
            elif len(chunks) >= 8:  # many small additions: keep one array per term (a new list)
                self._postings[t] = [(np.concatenate([c[0] for c in chunks] + [chunk[0]]),
                                      np.concatenate([c[1] for c in chunks] + [chunk[1]]))]
            else:
                chunks.append(chunk)
        self._n += len(rows)

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        return self.view().document_frequencies(terms)

    def search(self, terms: Sequence[str], keep: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self.view().search(terms, keep, k)


@dataclass(frozen=True)
class LexicalView:
    """The lexical index as it was at one moment: rows below ``n``, with their statistics."""

    n: int
    total: float
    lengths: np.ndarray
    postings: Mapping[str, list[tuple[np.ndarray, np.ndarray]]]
    k1: float = LexicalIndex.K1
    b: float = LexicalIndex.B

    def _term(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        chunks = tuple(self.postings.get(term, ()))  # one atomic copy of the list
        if not chunks:
            return None
        rows = np.concatenate([c[0] for c in chunks]) if len(chunks) > 1 else chunks[0][0]
        tfs = np.concatenate([c[1] for c in chunks]) if len(chunks) > 1 else chunks[0][1]
        if len(rows) and rows[-1] >= self.n:  # rows are ascending: cut those added after this view
            cut = int(np.searchsorted(rows, self.n))
            rows, tfs = rows[:cut], tfs[:cut]
        return (rows, tfs) if len(rows) else None

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many rows hold each term (removed rows included until the next start)."""
        out = {}
        for t in terms:
            posting = self._term(t)
            out[t] = 0 if posting is None else len(posting[0])
        return out

    def search(self, terms: Sequence[str], keep: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, BM25 score) of the ``k`` best rows where ``keep`` (a mask over this view's rows)
        is true, best first. ``terms`` are index tokens (``index_tokens`` of the query)."""
        n = self.n
        if n == 0 or not terms:
            return []
        if len(keep) != n:
            raise ValueError(f"mask of {len(keep)} rows for a view of {n}: masks must come from the same view")
        avgdl = self.total / n if self.total else 1.0
        rows_all, weights_all = [], []
        for term in dict.fromkeys(terms):
            posting = self._term(term)
            if posting is None:
                continue
            rows, tfs = posting
            df = len(rows)
            idf = math.log((n - df + 0.5) / (df + 0.5))
            idf = idf if idf > 0 else 1e-6  # FTS5's floor for terms in more than half the rows
            norm = self.k1 * (1 - self.b + self.b * self.lengths[rows] / avgdl)
            rows_all.append(rows)
            weights_all.append(idf * tfs * (self.k1 + 1) / (tfs + norm))
        if not rows_all:
            return []
        scores = np.bincount(np.concatenate(rows_all), weights=np.concatenate(weights_all), minlength=n)[:n]
        scores[~keep] = 0.0
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.lexsort((hits, -scores[hits]))]
        return [(int(r), float(scores[r])) for r in hits]


class HybridIndex:
    """Both sides of search over the same rows, published together.

    Writers (one at a time, under ``_lock``) append to both sides and then publish a new
    ``IndexSnapshot``; a reader takes the published snapshot (one attribute read) and computes its
    mask, cosines and BM25 scores from it alone, so it never mixes rows, masks or statistics from
    two moments, whatever is indexed or removed meanwhile. Mutations run in worker threads: a
    matrix growth copies the whole matrix, which must not stall the event loop."""

    def __init__(self, dense: DenseIndex | None = None, lexical: LexicalIndex | None = None) -> None:
        self.dense = dense or DenseIndex()
        self.lexical = lexical or LexicalIndex()
        if self.dense.rows != len(self.lexical):
            raise ValueError(f"dense ({self.dense.rows}) and lexical ({len(self.lexical)}) rows differ")
        self._lock = threading.Lock()
        self._snapshot = IndexSnapshot(self.dense.view(), self.lexical.view())

    @classmethod
    def build(cls, pids: np.ndarray, dids: np.ndarray, gids: np.ndarray, days: np.ndarray, matrix: np.ndarray,
              texts: Sequence[tuple[str, str]]) -> "HybridIndex":
        """An index of stored rows (CPU-heavy: call it off the event loop). ``texts`` are the
        (title, text) of the same rows, in the same order."""
        lexical = LexicalIndex()
        lexical.add(texts)
        return cls(DenseIndex(pids, dids, gids, days, matrix), lexical)

    def snapshot(self) -> "IndexSnapshot":
        return self._snapshot

    def __len__(self) -> int:
        return len(self._snapshot)

    def add(self, pids: Sequence[int], did: int, gid: int | None, published: dt.date | None,
            vectors: np.ndarray, texts: Sequence[tuple[str, str]], *, replaces: int | None = None) -> None:
        """Append one document's passages to both sides (``texts``: their (title, text), row for
        row with ``vectors``) and publish; with ``replaces``, that document's old rows disappear in
        the same snapshot, so no question sees both versions or neither."""
        if len(pids) != len(texts) or len(pids) != len(vectors):
            raise ValueError("pids, vectors and texts must be row for row")
        tokens = self.lexical.tokenise(texts)  # before the lock: readers and writers wait less
        with self._lock:
            if replaces is not None:
                self.dense.remove_document(replaces)
            self.dense.add(pids, did, gid, published, vectors)
            self.lexical.add_tokenised(tokens)
            self._snapshot = IndexSnapshot(self.dense.view(), self.lexical.view())

    def remove_document(self, did: int) -> None:
        with self._lock:
            self.dense.remove_document(did)
            self._snapshot = IndexSnapshot(self.dense.view(), self.lexical.view())


@dataclass(frozen=True)
class IndexSnapshot:
    """One consistent moment of a ``HybridIndex``: everything a question reads comes from here."""

    dense: DenseView
    lexical: LexicalView

    def __len__(self) -> int:
        return len(self.dense)

    @property
    def rows(self) -> int:
        return self.dense.n

    def mask(self, scope: int | None, date_from: dt.date | None, date_to: dt.date | None) -> np.ndarray:
        return self.dense.mask(scope, date_from, date_to)

    def search(self, vector: np.ndarray, terms: Sequence[str], n: int, *, scope: int | None = None,
               date_from: dt.date | None = None, date_to: dt.date | None = None
               ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """(dense, bm25) candidates as (passage id, score), one filter mask for both sides."""
        keep = self.mask(scope, date_from, date_to)
        dense = self.dense.search(vector, n, keep=keep)
        bm25 = [(int(self.dense.pids[row]), score) for row, score in self.lexical.search(terms, keep, n)]
        return dense, bm25

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        return self.lexical.document_frequencies(terms)

    def vectors(self, pids: Sequence[int]) -> dict[int, np.ndarray]:
        return self.dense.vectors(pids)


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


def fuse_scores(dense: Mapping[int, float], bm25: Mapping[int, float],
                weights: FusionWeights = FusionWeights()) -> dict[int, float]:
    """Weighted sum of standardised scores over the union of both candidate lists; a candidate
    missing from one side gets that side's lowest standardised score (it ranked below all of them)."""
    dz, bz = standardise(dense), standardise(bm25)
    dense_floor, bm25_floor = _floor(dz), _floor(bz)
    return {pid: dz.get(pid, dense_floor) + weights.bm25_weight * bz.get(pid, bm25_floor)
            for pid in set(dz) | set(bz)}


def _floor(z: Mapping[int, float]) -> float:
    """The score of a candidate a side did not return: its lowest. When every returned candidate
    scored alike (a lone BM25 match on a rare name), standardising gives them all 0, so the missing
    ones are put one deviation lower: being found must count."""
    if not z:
        return 0.0
    low = min(z.values())
    return low - 1.0 if max(z.values()) == low else low


def top_k(scores: Mapping[int, float], k: int) -> list[tuple[int, float]]:
    """Best ``k`` by score, ties broken by id so results are stable."""
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


# ---------------------------------------------------------------------------- search


@dataclass(frozen=True)
class Candidates:
    """Both sides' raw candidate scores for one query (kept for evaluation and answers), and the
    snapshot they were scored on: later steps (term statistics of an answer) read the same one."""

    dense: dict[int, float]
    bm25: dict[int, float]
    query_vector: np.ndarray
    snapshot: IndexSnapshot | None = None


def score_candidates(snapshot: IndexSnapshot, query: str, vector: np.ndarray, *, scope: int | None = None,
                     date_from: dt.date | None = None, date_to: dt.date | None = None,
                     n: int = CANDIDATES) -> Candidates:
    """Both sides' candidates for an embedded query, all from one snapshot (CPU work: off the loop)."""
    terms = index_tokens(" ".join(query_terms(query)[:32]))
    dense, bm25 = snapshot.search(vector, terms, n, scope=scope, date_from=date_from, date_to=date_to)
    return Candidates(dense=dict(dense), bm25=dict(bm25), query_vector=vector, snapshot=snapshot)


async def candidates(kb: "KnowledgeBase", query: str, *, scope: int | None = None,
                     date_from: dt.date | None = None, date_to: dt.date | None = None,
                     n: int = CANDIDATES, query_vector: np.ndarray | None = None) -> Candidates:
    index, embedder = kb.index, kb.embedder

    def both_sides(vector: np.ndarray | None) -> Candidates:
        # One worker thread, off the event loop. The query is embedded first (it may wait for a
        # bulk batch), and only then is the snapshot taken: mask, rows and statistics all belong
        # to the moment of scoring, never to one from before the wait.
        if vector is None:
            vector = embedder.encode([query])[0]
        return score_candidates(index.snapshot(), query, vector, scope=scope, date_from=date_from,
                                date_to=date_to, n=n)

    return await asyncio.to_thread(both_sides, query_vector)


async def search(kb: "KnowledgeBase", query: str, *, k: int = 10, scope: int | None = None,
                 date_from: dt.date | None = None, date_to: dt.date | None = None,
                 weights: FusionWeights = FusionWeights()) -> list[SearchHit]:
    query = (query or "").strip()
    if not query:
        return []
    cands = await candidates(kb, query, scope=scope, date_from=date_from, date_to=date_to)
    fused = top_k(fuse_scores(cands.dense, cands.bm25, weights), k)
    return await hits(kb, fused, cands)


async def hits(kb: "KnowledgeBase", ranked: Sequence[tuple[int, float]], cands: Candidates) -> list[SearchHit]:
    rows = await kb.store.passages_with_documents([pid for pid, _ in ranked])
    dense_rank = {pid: i for i, pid in enumerate(sorted(cands.dense, key=lambda p: -cands.dense[p]), 1)}
    bm25_rank = {pid: i for i, pid in enumerate(sorted(cands.bm25, key=lambda p: -cands.bm25[p]), 1)}
    out = []
    for pid, score in ranked:
        if pid not in rows:  # removed between ranking and loading
            continue
        passage, document = rows[pid]
        out.append(SearchHit(passage=passage, document=document, score=round(score, 6),
                             bm25_rank=bm25_rank.get(pid), dense_rank=dense_rank.get(pid),
                             dense_score=cands.dense.get(pid)))
    return out


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    """nDCG@k with graded relevance (BEIR's definition: gain = rel, discount = log2(rank + 1))."""
    dcg = sum(relevant.get(d, 0.0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0
