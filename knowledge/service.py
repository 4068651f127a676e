"""``KnowledgeBase``: the one async service the CLI and the bot share.

It owns the store (SQLite), the embedder and the in-memory dense index. Everything CPU-bound
(parsing, embedding, scoring) runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from . import chunking, ingest, retrieval
from .config import KnowledgeConfig
from .embed import Embedder, SentenceTransformerEmbedder
from .errors import (
    DocumentNotFound, DuplicateDocument, EmptyDocument, FileTooLarge, KnowledgeError,
    UnsupportedFileType,
)
from .models import Answer, Briefing, Document, IndexReport, SearchHit
from .store import NewDocument, Store, utcnow
from .text import sha256

log = logging.getLogger(__name__)

# What a channel, a guild or the CLI can see. None: every document (CLI, admin); 0: global documents
# only (direct messages); a guild id: global documents plus that guild's own.
Scope = int | None
GLOBAL_SCOPE = 0


class KnowledgeBase:
    def __init__(self, config: KnowledgeConfig, *, embedder: Embedder | None = None) -> None:
        self.config = config
        self.embedder: Embedder = embedder or SentenceTransformerEmbedder(
            config.model, query_threads=config.query_threads, index_threads=config.index_threads,
            batch_size=config.embed_batch_size,
        )
        self._store: Store | None = None
        self.dense = retrieval.DenseIndex()
        # One writer at a time: documents are indexed one transaction after another, and the dense
        # index is updated in the same order.
        self._write_lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(cls, config: KnowledgeConfig, *, embedder: Embedder | None = None) -> "KnowledgeBase":
        kb = cls(config, embedder=embedder)
        await kb.start()
        return kb

    async def start(self) -> None:
        self._store = await Store.open(self.config.db_path)
        await self._embed_missing()
        await self._load_dense()

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None

    async def __aenter__(self) -> "KnowledgeBase":
        if self._store is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("KnowledgeBase is not open")
        return self._store

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    async def _embed_missing(self) -> None:
        """Passages without a vector of the current model (the model setting changed, or an old
        database): embed them now, so vectors of two models are never mixed in one index."""
        missing = await self.store.passages_missing_vectors(self.model_id)
        if not missing:
            return
        log.info("embedding %d passages for model %s", len(missing), self.model_id)
        texts = [retrieval.passage_embedding_text(title, text) for _, title, text in missing]
        vectors = await asyncio.to_thread(self.embedder.encode, texts, bulk=True)
        await self.store.add_vectors(self.model_id, list(zip([m[0] for m in missing], vectors)))

    async def _load_dense(self) -> None:
        pids, dids, gids, days, matrix = await self.store.load_vectors(self.model_id)
        self.dense = retrieval.DenseIndex(pids, dids, gids, days, matrix)

    # ------------------------------------------------------------------ documents

    async def add_file(self, path: Path | str, *, guild_id: int | None = None, title: str | None = None,
                       replace: bool = False) -> Document:
        path = Path(path)
        name = path.name
        if path.suffix.lower() not in ingest.SUPPORTED_SUFFIXES:
            raise UnsupportedFileType(f"{name}: unsupported file type {path.suffix or '(none)'}; "
                                      f"use {', '.join(ingest.SUPPORTED_SUFFIXES)}")
        try:
            size = path.stat().st_size
        except OSError as e:
            raise KnowledgeError(f"{name}: cannot read the file ({e.strerror or e})") from e
        if size > self.config.max_file_bytes:
            raise FileTooLarge(f"{name}: file is {_mb(size)}, over the {_mb(self.config.max_file_bytes)} limit")
        data = await asyncio.to_thread(path.read_bytes)
        return await self.add_bytes(data, name, guild_id=guild_id, title=title, origin=str(path), replace=replace)

    async def add_bytes(self, data: bytes, filename: str, *, guild_id: int | None = None, title: str | None = None,
                        origin: str | None = None, replace: bool = False) -> Document:
        """Index a file's bytes (an upload, an attachment). ``replace``: a document from the same
        origin is replaced by this one (re-indexing a changed file)."""
        if len(data) > self.config.max_file_bytes:
            raise FileTooLarge(f"{filename}: file is {_mb(len(data))}, over the "
                               f"{_mb(self.config.max_file_bytes)} limit")
        if not data.strip():
            raise EmptyDocument(f"{filename}: the file is empty")
        parsed = await asyncio.to_thread(ingest.parse_bytes, data, filename, max_bytes=self.config.max_file_bytes)
        return await self._add_parsed(parsed, content_hash=sha256(data), origin=origin or filename,
                                      guild_id=guild_id, title=title, replace=replace, name=filename)

    async def add_text(self, text: str, *, guild_id: int | None = None, title: str | None = None,
                       source: str | None = None, published: dt.date | None = None,
                       origin: str = "pasted text", added_at: dt.datetime | None = None) -> Document:
        if not text or not text.strip():
            raise EmptyDocument("the text is empty")
        if len(text.encode("utf-8")) > self.config.max_file_bytes:
            raise FileTooLarge(f"the text is over the {_mb(self.config.max_file_bytes)} limit")
        parsed = await asyncio.to_thread(ingest.parse_text, text, title=title)
        if source or published:
            parsed = ingest.with_metadata(parsed, source=source, published=published)
        return await self._add_parsed(parsed, content_hash=sha256(text.strip()), origin=origin,
                                      guild_id=guild_id, title=title, replace=False, name=title or origin,
                                      added_at=added_at)

    async def add_url(self, url: str, *, guild_id: int | None = None, title: str | None = None) -> Document:
        data, filename = await ingest.fetch_url(url, max_bytes=self.config.max_file_bytes,
                                                timeout_s=self.config.url_timeout_s)
        return await self.add_bytes(data, filename, guild_id=guild_id, title=title, origin=url)

    async def _add_parsed(self, parsed: "ingest.ParsedDocument", *, content_hash: str, origin: str,
                          guild_id: int | None, title: str | None, replace: bool, name: str,
                          added_at: dt.datetime | None = None) -> Document:
        if not parsed.paragraphs:
            raise EmptyDocument(f"{name}: no readable text found")
        doc = NewDocument(
            title=(title or parsed.title or name).strip()[:300], source=parsed.source, published=parsed.published,
            published_precision=parsed.published_precision, author=parsed.author, guild_id=guild_id,
            origin=origin, content_hash=content_hash, text=parsed.text, words=len(parsed.text.split()),
        )
        passages = chunking.chunk_paragraphs(parsed.paragraphs)
        async with self._write_lock:
            existing = await self.store.find_by_hash(content_hash, guild_id)
            if existing is not None:
                raise DuplicateDocument(f"{name}: already indexed as #{existing.id} “{existing.title}”",
                                        existing_id=existing.id)
            old = await self.store.find_by_origin(origin, guild_id) if replace else None
            vectors = await self._vectors_for(doc.title, passages)
            doc_id, ids = await self.store.insert_document(doc, passages, vectors, self.model_id,
                                                           replace_id=old.id if old else None, added_at=added_at)
            if old is not None:
                self.dense.remove_document(old.id)
            stored = await self.store.get_document(doc_id)
            self.dense.add(ids, doc_id, guild_id, stored.published, vectors)
        log.info("indexed #%d %r: %d passages", doc_id, doc.title, len(ids))
        return stored

    async def _vectors_for(self, title: str, passages: Sequence) -> np.ndarray:
        """Embed passages, reusing stored vectors of unchanged text (same hash, same model)."""
        known = await self.store.vectors_by_hash(self.model_id, [p.text_hash for p in passages])
        todo = [p for p in passages if p.text_hash not in known]
        fresh: dict[str, np.ndarray] = {}
        if todo:
            texts = [retrieval.passage_embedding_text(title, p.text) for p in todo]
            vecs = await asyncio.to_thread(self.embedder.encode, texts, bulk=len(texts) > 1)
            fresh = {p.text_hash: v for p, v in zip(todo, vecs)}
        dim = self.embedder.dim or (len(next(iter(known.values()))) // 4 if known else 0)
        out = np.zeros((len(passages), dim), dtype=np.float32)
        for i, p in enumerate(passages):
            out[i] = fresh[p.text_hash] if p.text_hash in fresh else np.frombuffer(known[p.text_hash], dtype="<f4")
        return out

    async def index_paths(self, paths: Iterable[Path | str], *, guild_id: int | None = None,
                          progress: Callable[[Path, str], None] | None = None) -> IndexReport:
        """Index files and folders incrementally: an unchanged file (same content hash) embeds
        nothing, a changed one replaces its passages. A failing file never stops the batch; its
        error is in the report."""
        report = IndexReport()
        for path in _expand(paths):
            status = "error"
            try:
                existing = await self.store.find_by_origin(str(path), guild_id)
                if existing is not None:
                    data = await asyncio.to_thread(path.read_bytes)
                    if sha256(data) == existing.content_hash:
                        report.unchanged.append(existing)
                        status = "unchanged"
                        continue
                    doc = await self.add_bytes(data, path.name, guild_id=guild_id, origin=str(path), replace=True)
                    report.updated.append(doc)
                    status = "updated"
                else:
                    doc = await self.add_file(path, guild_id=guild_id)
                    report.added.append(doc)
                    status = "added"
            except KnowledgeError as e:
                log.warning("not indexed: %s", e)
                report.errors.append(e)
            except OSError as e:
                report.errors.append(KnowledgeError(f"{path.name}: cannot read the file ({e.strerror or e})"))
            finally:
                if progress is not None:
                    progress(path, status)
        return report

    async def remove_document(self, doc_id: int, *, guild_id: int | None = None) -> Document:
        """Remove a document with its passages, vectors and FTS rows. With ``guild_id`` only that
        guild's own documents can be removed (seeds are shared by every guild)."""
        async with self._write_lock:
            doc = await self.store.get_document(doc_id)
            if doc is None or (guild_id is not None and doc.guild_id != guild_id):
                raise DocumentNotFound(f"no document #{doc_id} that can be removed here")
            await self.store.delete_document(doc_id)
            self.dense.remove_document(doc_id)
        return doc

    async def get_document(self, doc_id: int, *, scope: Scope = None) -> Document:
        doc = await self.store.get_document(doc_id)
        if doc is None or not _visible(doc, scope):
            raise DocumentNotFound(f"no document #{doc_id}")
        return doc

    async def document_text(self, doc_id: int, *, scope: Scope = None) -> str:
        await self.get_document(doc_id, scope=scope)
        return await self.store.document_text(doc_id) or ""

    async def list_documents(self, *, scope: Scope = None, limit: int | None = None, offset: int = 0,
                             title_like: str | None = None) -> list[Document]:
        return await self.store.list_documents(scope=scope, limit=limit, offset=offset, title_like=title_like)

    async def count_documents(self, *, scope: Scope = None) -> int:
        return await self.store.count_documents(scope=scope)

    # ------------------------------------------------------------------ search, answers, briefings

    async def search(self, query: str, *, k: int = 10, scope: Scope = None,
                     date_from: dt.date | None = None, date_to: dt.date | None = None) -> list[SearchHit]:
        return await retrieval.search(self, query, k=k, scope=scope, date_from=date_from, date_to=date_to)

    async def ask(self, question: str, *, scope: Scope = None, history: Sequence[str] | None = None,
                  now: dt.datetime | None = None) -> Answer:
        from .answer import answer_question

        started = time.perf_counter()
        answer = await answer_question(self, question, scope=scope, history=list(history or []), now=now or utcnow())
        return _with_latency(answer, (time.perf_counter() - started) * 1000)

    async def brief(self, *, since: dt.datetime, until: dt.datetime | None = None, scope: Scope = None,
                    max_words: int = 350, by: str = "added") -> Briefing:
        from .briefing import build_briefing

        return await build_briefing(self, since=since, until=until or utcnow(), scope=scope,
                                    max_words=max_words, by=by)

    # ------------------------------------------------------------------ interaction log

    async def log_interaction(self, kind: str, **fields) -> int:
        return await self.store.log_interaction(kind, **fields)


def _with_latency(answer: Answer, ms: float) -> Answer:
    from dataclasses import replace

    return replace(answer, latency_ms=round(ms, 1))


def _visible(doc: Document, scope: Scope) -> bool:
    if scope is None:
        return True
    return doc.guild_id is None or (scope != GLOBAL_SCOPE and doc.guild_id == scope)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def _expand(paths: Iterable[Path | str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")))
        else:
            out.append(p)
    return out
