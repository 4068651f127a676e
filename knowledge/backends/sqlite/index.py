"""The in-memory search index: a dense side (exact cosine over a float32 matrix, ``DenseIndex``)
and a lexical side (BM25 from in-memory postings, ``LexicalIndex``) over the same rows, published
together as consistent snapshots (``HybridIndex``, ``IndexSnapshot``). Fusion and the search
pipeline over them live in ``retrieval``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...scope import GLOBAL_SCOPE, scope_of
from .. import lexical as spec
from ..lexical import K1, TITLE_WEIGHT, B

# ---------------------------------------------------------------------------- dense side


class DenseIndex:
    """Float32 matrix of L2-normalised passage vectors with the columns search filters on.
    Rows are appended into spare capacity (amortised O(1)), removed rows are masked; exact cosine
    is one matrix-vector product.

    Readers work on a ``DenseView`` (``view()``): rows below its ``n`` are never written again, growth
    allocates new arrays, and removal replaces the alive mask instead of editing it (copy on write),
    so a view stays valid and unchanged while the index grows. Not safe for two writers at once;
    ``HybridIndex`` serialises them."""

    def __init__(
        self,
        pids: np.ndarray | None = None,
        dids: np.ndarray | None = None,
        gids: np.ndarray | None = None,
        days: np.ndarray | None = None,
        matrix: np.ndarray | None = None,
    ) -> None:
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
            assert pids is not None and dids is not None and gids is not None and days is not None  # given together
            self._pids[:n], self._dids[:n], self._gids[:n], self._days[:n] = pids, dids, gids, days
            self._alive[:n] = True
            if matrix is not None:  # None only when dim is 0: nothing to copy
                self._matrix[:n] = matrix

    @classmethod
    def adopt(
        cls,
        pids: np.ndarray,
        dids: np.ndarray,
        gids: np.ndarray,
        days: np.ndarray,
        alive: np.ndarray,
        matrix: np.ndarray,
    ) -> DenseIndex:
        """An index over existing arrays of exactly its rows (memory-mapped by ``index_cache``), not
        copied. They may be read-only: the first ``add`` grows into new arrays (no spare capacity)
        and removal replaces the mask."""
        index = cls()
        index._n, index._dim = len(pids), matrix.shape[1]
        index._pids, index._dids, index._gids, index._days, index._alive = pids, dids, gids, days, alive
        index._matrix = matrix
        return index

    def __len__(self) -> int:
        return int(self._alive[: self._n].sum())

    @property
    def rows(self) -> int:
        """Rows ever added (removed ones included): the row count the lexical side must match."""
        return self._n

    def view(self) -> DenseView:
        return DenseView(self._n, self._dim, self._pids, self._dids, self._gids, self._days, self._alive, self._matrix)

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

    def add(
        self, pids: Sequence[int], did: int, gid: int | None, published: dt.date | None, vectors: np.ndarray
    ) -> None:
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

    # Conveniences over a view taken now (tests, benchmarks); the filters are ``DenseView``'s.
    def mask(self, scope: int | None, date_from: dt.date | None, date_to: dt.date | None) -> np.ndarray:
        return self.view().mask(scope, date_from, date_to)

    def search(self, query: np.ndarray, k: int, **filters: Any) -> list[tuple[int, float]]:
        return self.view().search(query, k, **filters)

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

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        scope: int | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        keep: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
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
    The formula and tokens are the lexical spec's (``backends.lexical``: FTS5's), so rankings agree
    with ``SqliteStore.fts_search`` (a test checks it). Removed rows are masked
    by the caller; they keep counting in N and n, a drift too small to matter between restarts.

    Readers use a ``LexicalView``: postings are appended in row order as (rows, tfs) pairs (one
    object, so a reader never pairs one chunk's rows with another's frequencies) and a view cuts
    them at its own row count, so rows added after it was taken are invisible to it."""

    def __init__(self, title_weight: float = TITLE_WEIGHT) -> None:
        self.title_weight = title_weight
        self._postings: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._lengths = np.zeros(1024, dtype=np.float32)
        self._n = 0
        self._total = 0.0

    @classmethod
    def from_arrays(
        cls,
        terms: Sequence[str],
        offsets: np.ndarray,
        rows: np.ndarray,
        tfs: np.ndarray,
        lengths: np.ndarray,
        title_weight: float = TITLE_WEIGHT,
    ) -> LexicalIndex:
        """An index over concatenated postings (term ``i`` owns ``rows``/``tfs`` from ``offsets[i]``
        to ``offsets[i + 1]``, rows ascending) and per-row ``lengths``: each term's posting is a view
        of those arrays, nothing is copied. Growth allocates new arrays, so they may be read-only."""
        index = cls(title_weight)
        bounds = offsets.tolist()
        index._postings = {t: [(rows[a:b], tfs[a:b])] for t, a, b in zip(terms, bounds, bounds[1:], strict=False)}
        index._lengths = lengths
        index._n = len(lengths)
        index._total = float(lengths.sum(dtype=np.float64))
        return index

    def __len__(self) -> int:
        return self._n

    def view(self) -> LexicalView:
        return LexicalView(self._n, self._total, self._lengths, self._postings, K1, B)

    def tokenise(self, texts: Sequence[tuple[str, str]]) -> list[spec.Terms]:
        """Per (title, text): term frequencies and length (``lexical.tokenise``). The slow, pure
        part of ``add``, done before any row is written so a failure leaves the index untouched."""
        return spec.tokenise(texts, self.title_weight)

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
                self._postings[t] = [
                    (
                        np.concatenate([c[0] for c in chunks] + [chunk[0]]),
                        np.concatenate([c[1] for c in chunks] + [chunk[1]]),
                    )
                ]
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
    k1: float = K1
    b: float = B

    def _term(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        chunks: tuple[tuple[np.ndarray, np.ndarray], ...] = tuple(self.postings.get(term, []))  # one atomic copy
        if not chunks:
            return None
        if len(chunks) == 1:
            rows, tfs = chunks[0]
        else:
            rows = np.concatenate([c[0] for c in chunks])
            tfs = np.concatenate([c[1] for c in chunks])
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
            idf = spec.idf(n, df)
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
    def build(
        cls,
        pids: np.ndarray,
        dids: np.ndarray,
        gids: np.ndarray,
        days: np.ndarray,
        matrix: np.ndarray,
        texts: Sequence[tuple[str, str]],
    ) -> HybridIndex:
        """An index of stored rows (CPU-heavy: call it off the event loop). ``texts`` are the
        (title, text) of the same rows, in the same order."""
        lexical = LexicalIndex()
        lexical.add(texts)
        return cls(DenseIndex(pids, dids, gids, days, matrix), lexical)

    def snapshot(self) -> IndexSnapshot:
        return self._snapshot

    def __len__(self) -> int:
        return len(self._snapshot)

    def add(
        self,
        pids: Sequence[int],
        did: int,
        gid: int | None,
        published: dt.date | None,
        vectors: np.ndarray,
        texts: Sequence[tuple[str, str]],
        *,
        replaces: int | None = None,
    ) -> None:
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

    def search(
        self,
        vector: np.ndarray,
        terms: Sequence[str],
        n: int,
        *,
        scope: int | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
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
