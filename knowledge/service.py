"""``KnowledgeBase``: the one async service the CLI and the bot share.

It owns the store, the embedder and the search index: a SQLite file with the index in memory
(``HybridIndex``), or PostgreSQL with pgvector where the database searches (``PgIndex``) and
several processes share one collection. Everything CPU-bound (parsing, embedding, scoring) runs
in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import index_cache, ingest, retrieval
from .answer import decide, read_question
from .briefing import build_briefing
from .config import KnowledgeConfig
from .embed import Embedder, SentenceTransformerEmbedder
from .errors import (
    DatabaseError,
    DocumentNotFound,
    DuplicateDocument,
    EmptyDocument,
    FileTooLarge,
    KnowledgeError,
)
from .files import expand_paths, read_checked
from .index import DenseIndex, HybridIndex, LexicalIndex
from .models import Answer, Briefing, Document, IndexReport, Interaction, SearchHit, UsageStats
from .prepare import Prepared, TextItem, passage_count, prepare, prepare_file
from .question import normalise_question
from .scope import GLOBAL_SCOPE, Scope, scope_of
from .servers import ServerSetup
from .store import DocumentWrite, Store, inserted_document, open_store, utcnow
from .text import sha256

if TYPE_CHECKING:
    from .pg_index import PgIndex

log = logging.getLogger(__name__)


class KnowledgeBase(ServerSetup):
    def __init__(self, config: KnowledgeConfig, *, embedder: Embedder | None = None) -> None:
        self.config = config
        self.embedder: Embedder = embedder or SentenceTransformerEmbedder(
            config.model,
            query_threads=config.query_threads,
            index_threads=config.index_threads,
            batch_size=config.embed_batch_size,
            freeze_heap=config.freeze_heap,
        )
        self._store: Store | None = None
        # Dense and BM25 sides together: in memory, questions reading its published snapshots
        # (index.HybridIndex); or in PostgreSQL (pg_index.PgIndex).
        self.index: HybridIndex | PgIndex = HybridIndex()
        # One writer at a time: documents are indexed one transaction after another, and the index
        # is updated in the same order.
        self._write_lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(cls, config: KnowledgeConfig, *, embedder: Embedder | None = None) -> KnowledgeBase:
        kb = cls(config, embedder=embedder)
        await kb.start()
        return kb

    async def start(self) -> None:
        if self.config.db_url:
            await self._start_postgres()
            return
        self._store = await Store.open(self.config.db_path, busy_timeout_s=self.config.db_busy_timeout_s)
        try:
            await self._embed_missing()
            await self._load_dense()
        except BaseException as e:
            # Closed on every path: a connection left open keeps the failed process alive.
            await self.close()
            if isinstance(e, sqlite3.DatabaseError):  # damage deeper in the file than Store.open reads
                raise DatabaseError(f"cannot open the database {self.config.db_path}: {e}") from e
            raise
        if self.config.freeze_heap:
            _freeze_heap()

    async def _start_postgres(self) -> None:
        # Lazy: psycopg is only imported by processes that use PostgreSQL.
        from .pg_index import PgIndex
        from .pg_store import PgStore

        store = await open_store(self.config)
        assert isinstance(store, PgStore)
        self._store = store
        try:
            await self._embed_missing()
        except BaseException:
            await self.close()
            raise
        # Nothing to load: the database searches, so opening costs the same at any size.
        self.index = PgIndex(store, self.model_id)

    async def close(self) -> None:
        if self._store is not None:
            try:
                if isinstance(self.index, HybridIndex):  # PostgreSQL holds no index in the process
                    await index_cache.save_if_changed(self._store, self.model_id, self.index)
            finally:
                await self._store.close()
                self._store = None

    async def __aenter__(self) -> KnowledgeBase:
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
    def dense(self) -> DenseIndex:
        return self.memory_index.dense

    @property
    def lexical(self) -> LexicalIndex:
        return self.memory_index.lexical

    @property
    def memory_index(self) -> HybridIndex:
        """The in-memory index of the SQLite backend (PostgreSQL has none)."""
        if not isinstance(self.index, HybridIndex):
            raise RuntimeError("the PostgreSQL backend holds no index in memory")
        return self.index

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
        await self.store.add_vectors(self.model_id, list(zip([m[0] for m in missing], vectors, strict=True)))

    async def _load_dense(self) -> None:
        self.index = await index_cache.load_or_build(self.store, self.model_id)

    # ------------------------------------------------------------------ documents

    async def add_file(self, path: Path | str, *, guild_id: int | None = None, title: str | None = None) -> Document:
        item = await self._read_file(Path(path), guild_id=guild_id, title=title)
        return _single(await self._index_items([item]))

    async def add_bytes(
        self,
        data: bytes,
        filename: str,
        *,
        guild_id: int | None = None,
        title: str | None = None,
        origin: str | None = None,
    ) -> Document:
        """Index a file's bytes (an upload, an attachment)."""
        item = await self._prepare_bytes(data, filename, guild_id=guild_id, title=title, origin=origin or filename)
        return _single(await self._index_items([item]))

    async def add_text(
        self,
        text: str,
        *,
        guild_id: int | None = None,
        title: str | None = None,
        source: str | None = None,
        published: dt.date | None = None,
        origin: str = "pasted text",
        added_at: dt.datetime | None = None,
    ) -> Document:
        """Index pasted text. With ``title`` given the text is all body (no title line is looked for)."""
        item = await asyncio.to_thread(
            self._prepare_text,
            TextItem(text, title=title, source=source, published=published, origin=origin, added_at=added_at),
            guild_id,
        )
        return _single(await self._index_items([item]))

    async def add_texts(self, items: Sequence[TextItem], *, guild_id: int | None = None) -> IndexReport:
        """Index many texts at once: embeddings are computed in large batches across documents, and
        each batch is written in one transaction. Failures are reported, not raised."""
        report = IndexReport()
        pending: list[Prepared | KnowledgeError] = []

        async def flush() -> None:
            for result in await self._index_items(pending):
                if isinstance(result, Exception):
                    report.errors.append(result)
                else:
                    report.added.append(result)
            pending.clear()

        for i in range(0, len(items), _PREPARE_DOCUMENTS):
            pending += await asyncio.to_thread(
                lambda chunk: [_attempt(self._prepare_text, it, guild_id) for it in chunk],
                items[i : i + _PREPARE_DOCUMENTS],
            )
            if passage_count(pending) >= _BATCH_PASSAGES:
                await flush()
        if pending:
            await flush()
        return report

    async def add_url(self, url: str, *, guild_id: int | None = None, title: str | None = None) -> Document:
        data, filename = await ingest.fetch_url(
            url,
            max_bytes=self.config.max_file_bytes,
            timeout_s=self.config.url_timeout_s,
            allow=self.config.fetch_allow,
        )
        # A user:password in the link must not reach the stored origin, /doc show or the log.
        return await self.add_bytes(
            data, filename, guild_id=guild_id, title=title, origin=ingest.clean_name(ingest.strip_credentials(url))
        )

    async def index_paths(
        self,
        paths: Iterable[Path | str],
        *,
        guild_id: int | None = None,
        progress: Callable[[Path, str], None] | None = None,
    ) -> IndexReport:
        """Index files and folders incrementally: an unchanged file (same content hash) embeds
        nothing, a changed one replaces its passages. A failing file never stops the batch; its
        error is in the report."""
        report = IndexReport()
        batch: list[tuple[Path, Prepared | KnowledgeError]] = []
        passages = 0

        async def flush() -> None:
            nonlocal passages
            results = await self._index_items([item for _, item in batch])
            for (path, item), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    log.warning("not indexed: %s", result)
                    report.errors.append(result)
                    status = "error"
                elif isinstance(item, Prepared) and item.replace_id is not None:
                    report.updated.append(result)
                    status = "updated"
                else:
                    report.added.append(result)
                    status = "added"
                if progress:
                    progress(path, status)
            batch.clear()
            passages = 0

        for path in expand_paths(paths):
            try:
                existing = await self.store.find_by_origin(str(path), guild_id)
                data = await asyncio.to_thread(read_checked, path, self.config.max_file_bytes)
                if existing is not None and sha256(data) == existing.content_hash:
                    report.unchanged.append(existing)
                    if progress:
                        progress(path, "unchanged")
                    continue
                item = await self._prepare_bytes(data, path.name, guild_id=guild_id, title=None, origin=str(path))
                if existing is not None:
                    item.replace_id = existing.id
                batch.append((path, item))
                passages += len(item.passages)
            except KnowledgeError as e:
                batch.append((path, e))
            if passages >= _BATCH_PASSAGES:
                await flush()
        if batch:
            await flush()
        return report

    # ------------------------------------------------------------------ indexing internals

    async def _read_file(self, path: Path, *, guild_id: int | None, title: str | None) -> Prepared:
        data = await asyncio.to_thread(read_checked, path, self.config.max_file_bytes)
        return await self._prepare_bytes(data, path.name, guild_id=guild_id, title=title, origin=str(path))

    async def _prepare_bytes(
        self, data: bytes, filename: str, *, guild_id: int | None, title: str | None, origin: str
    ) -> Prepared:
        # In a worker process with a time limit (``workers``): a slow PDF no longer stalls the loop.
        return await prepare_file(self.config, data, filename, origin=origin, guild_id=guild_id, title=title)

    def _prepare_text(self, item: TextItem, guild_id: int | None) -> Prepared:
        name = item.title or item.origin
        if not item.text or not item.text.strip():
            raise EmptyDocument(f"{name}: the text is empty")
        if len(item.text.encode("utf-8")) > self.config.max_file_bytes:
            raise FileTooLarge(f"{name}: the text is over the {ingest.mb(self.config.max_file_bytes)} limit")
        parsed = ingest.parse_text(item.text, title=item.title)
        if item.source or item.published:
            parsed = ingest.with_metadata(parsed, source=item.source, published=item.published)
        return prepare(
            parsed,
            content_hash=sha256(item.text.strip()),
            origin=item.origin,
            guild_id=guild_id,
            title=item.title,
            name=name,
            added_at=item.added_at,
        )

    async def _index_items(self, items: Sequence[Prepared | KnowledgeError]) -> list[Document | KnowledgeError]:
        """Write prepared documents: duplicates refused, all new passage texts embedded in one bulk
        call, then one transaction for all (one per document when that one fails, so a document
        that cannot be written costs only itself)."""
        results: list[Document | KnowledgeError | None] = [None] * len(items)
        async with self._write_lock:
            todo: list[tuple[int, Prepared]] = []
            seen: dict[tuple[str, int], str] = {}
            stored = await self.store.find_by_hashes(
                (item.doc.content_hash, item.doc.guild_id) for item in items if not isinstance(item, Exception)
            )
            for i, item in enumerate(items):
                if isinstance(item, Exception):
                    results[i] = item
                    continue
                key = (item.doc.content_hash, scope_of(item.doc.guild_id))
                existing = stored.get(key)
                if existing is not None and existing.id != item.replace_id:
                    results[i] = DuplicateDocument(
                        f"{item.name}: already indexed as #{existing.id} “{existing.title}”", existing_id=existing.id
                    )
                elif key in seen:
                    results[i] = DuplicateDocument(f"{item.name}: same content as {seen[key]} in this batch")
                else:
                    seen[key] = item.name
                    todo.append((i, item))
            vectors = await self._vectors_for([item for _, item in todo])
            writes = [
                DocumentWrite(
                    item.doc, item.passages, vecs, replace_id=item.replace_id, added_at=item.added_at or utcnow()
                )
                for (_, item), vecs in zip(todo, vectors, strict=True)
            ]
            written: list[tuple[int, list[int]] | DuplicateDocument]
            try:
                written = list(await self.store.insert_documents(writes, self.model_id))
            except (DuplicateDocument, DatabaseError):
                # Nothing of the batch was written: one by one, to learn which document it was.
                written = [await self._insert_one(w) for w in writes]
            # Both sides of each document in one publish (the old version of a replaced document
            # goes in the same step), in a worker: tokenising and a matrix growth must not stall the
            # event loop. PostgreSQL wrote its index rows in the documents' transaction.
            if isinstance(self.index, HybridIndex):
                index = self.index

                def publish() -> None:
                    for w, ok in zip(writes, written, strict=True):
                        if not isinstance(ok, DuplicateDocument):
                            doc_id, ids = ok
                            texts = [(w.doc.title, p.text) for p in w.passages]
                            index.add(
                                ids, doc_id, w.doc.guild_id, w.doc.published, w.vectors, texts, replaces=w.replace_id
                            )

                await asyncio.to_thread(publish)
            for (i, item), w, ok in zip(todo, writes, written, strict=True):
                if isinstance(ok, DuplicateDocument):  # another process indexed the same content meanwhile
                    results[i] = DuplicateDocument(f"{item.name}: {ok}")
                    continue
                doc_id, ids = ok
                assert w.added_at is not None  # set above
                results[i] = inserted_document(item.doc, doc_id, len(ids), w.added_at)
                log.info("indexed #%d %r: %d passages", doc_id, item.doc.title, len(ids))
        return results  # type: ignore[return-value]

    async def _insert_one(self, w: DocumentWrite) -> tuple[int, list[int]] | DuplicateDocument:
        try:
            return await self.store.insert_document(
                w.doc, w.passages, w.vectors, self.model_id, replace_id=w.replace_id, added_at=w.added_at
            )
        except DuplicateDocument as e:
            return e

    async def _vectors_for(self, items: Sequence[Prepared]) -> list[np.ndarray]:
        """Vectors for every passage of ``items``: stored vectors of unchanged text (same hash, same
        model) are reused, the rest embedded together in one bulk call."""
        hashes = [p.text_hash for item in items for p in item.passages]
        known = await self.store.vectors_by_hash(self.model_id, hashes)
        texts: dict[str, str] = {}
        for item in items:
            for p in item.passages:
                if p.text_hash not in known:
                    texts.setdefault(p.text_hash, retrieval.passage_embedding_text(item.index_title, p.text))

        def embed_and_assemble() -> list[np.ndarray]:
            # Bulk encoding goes batch by batch, so a question waits at most one batch (embed.py);
            # assembling thousands of rows is worker work too.
            fresh: dict[str, np.ndarray] = {}
            if texts:
                fresh = dict(zip(texts, self.embedder.encode(list(texts.values()), bulk=len(texts) > 1), strict=True))
            out = []
            for item in items:
                rows = [
                    fresh[p.text_hash] if p.text_hash in fresh else np.frombuffer(known[p.text_hash], dtype="<f4")
                    for p in item.passages
                ]
                out.append(np.vstack(rows).astype(np.float32) if rows else np.zeros((0, self.embedder.dim), np.float32))
            return out

        return await asyncio.to_thread(embed_and_assemble)

    async def remove_document(self, doc_id: int, *, guild_id: int | None = None) -> Document:
        """Remove a document with its passages, vectors and FTS rows. With ``guild_id`` only that
        guild's own documents can be removed (seeds are shared by every guild)."""
        async with self._write_lock:
            doc = await self.store.get_document(doc_id)
            if doc is None or (guild_id is not None and doc.guild_id != guild_id):
                raise DocumentNotFound(f"no document #{doc_id} that can be removed here")
            await self.store.delete_document(doc_id)
            if isinstance(self.index, HybridIndex):
                await asyncio.to_thread(self.index.remove_document, doc_id)
        return doc

    async def get_document(self, doc_id: int, *, scope: Scope = None) -> Document:
        doc = await self.store.get_document(doc_id)
        if doc is None or not _visible(doc, scope):
            raise DocumentNotFound(f"no document #{doc_id}")
        return doc

    async def document_text(self, doc_id: int, *, scope: Scope = None) -> str:
        await self.get_document(doc_id, scope=scope)
        return await self.store.document_text(doc_id) or ""

    async def list_documents(
        self, *, scope: Scope = None, limit: int | None = None, offset: int = 0, title_like: str | None = None
    ) -> list[Document]:
        return await self.store.list_documents(scope=scope, limit=limit, offset=offset, title_like=title_like)

    async def count_documents(self, *, scope: Scope = None) -> int:
        return await self.store.count_documents(scope=scope)

    # ------------------------------------------------------------------ search, answers, briefings

    async def search(
        self,
        query: str,
        *,
        k: int = 10,
        scope: Scope = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        now: dt.datetime | None = None,
    ) -> list[SearchHit]:
        """``now``: the time of asking, for a ranking as of then (``retrieval.search``)."""
        return await retrieval.search(
            self, normalise_question(query), k=k, scope=scope, date_from=date_from, date_to=date_to, now=now
        )

    async def ask(
        self,
        question: str,
        *,
        scope: Scope = None,
        history: Sequence[str] | None = None,
        now: dt.datetime | None = None,
    ) -> Answer:
        started = time.perf_counter()
        reading = await read_question(self, question, scope=scope, history=list(history or []), now=now or utcnow())
        answer = decide(reading)
        return _with_latency(answer, (time.perf_counter() - started) * 1000)

    async def brief(
        self,
        *,
        since: dt.datetime,
        until: dt.datetime | None = None,
        scope: Scope = None,
        max_words: int = 350,
        by: str = "added",
    ) -> Briefing:
        return await build_briefing(self, since=since, until=until or utcnow(), scope=scope, max_words=max_words, by=by)

    async def count_passages(self) -> int:
        return await self.store.count_passages()

    # ------------------------------------------------------------------ interaction log, briefing posts

    async def log_interaction(self, kind: str, **fields) -> int:
        return await self.store.log_interaction(kind, **fields)

    async def interaction(self, row_id: int) -> Interaction | None:
        return await self.store.interaction(row_id)

    async def interactions(
        self, *, since: dt.datetime | None = None, guild_id: int | None = None, kind: str | None = None
    ) -> list[Interaction]:
        return await self.store.interactions(since=since, guild_id=guild_id, kind=kind)

    async def usage_stats(
        self, *, guild_id: int | None = None, days: int = 7, now: dt.datetime | None = None
    ) -> UsageStats:
        return await self.store.interaction_stats(guild_id=guild_id, days=days, now=now)

    async def briefing_posted(self, channel_id: int, day: dt.date) -> bool:
        return await self.store.briefing_posted(channel_id, day)

    async def claim_briefing(
        self, *, channel_id: int, day: dt.date, guild_id: int | None = None, at: dt.datetime | None = None
    ) -> bool:
        """Record that ``channel_id`` has its briefing for ``day``; False when it already had (in any
        process: the record is unique per channel and day)."""
        return await self.store.record_briefing_post(channel_id=channel_id, day=day, guild_id=guild_id, at=at)

    async def last_briefing_at(self, channel_id: int) -> dt.datetime | None:
        return await self.store.last_briefing_at(channel_id)


# Passages embedded together (across documents). One encode call sorts its texts by length, so few
# large calls waste less on padding than many small ones: measured on 642 news passages, three calls
# of 256 documents took 25% longer than one call. Small enough that a progress bar still moves
# (about a minute on 2 CPU cores) and memory stays flat on big folders.
_BATCH_PASSAGES = 2048
# Texts parsed per worker-thread call by ``add_texts``.
_PREPARE_DOCUMENTS = 256


def _freeze_heap() -> None:
    """Move what start-up built (the index, imported libraries) out of the garbage collector's
    reach. A full collection holds the GIL for its whole scan of the heap, whichever thread runs
    it: measured at 50-80 ms in indexing workers, each one an event-loop stall. Long-lived objects
    need no scanning; new garbage is still collected."""
    gc.collect()
    gc.freeze()


def _attempt(fn: Callable, *args):
    try:
        return fn(*args)
    except KnowledgeError as e:
        return e


def _single(results: list) -> Document:
    if isinstance(results[0], Exception):
        raise results[0]
    return results[0]


def _with_latency(answer: Answer, ms: float) -> Answer:
    return replace(answer, latency_ms=round(ms, 1))


def _visible(doc: Document, scope: Scope) -> bool:
    if scope is None:
        return True
    return doc.guild_id is None or (scope != GLOBAL_SCOPE and doc.guild_id == scope)
