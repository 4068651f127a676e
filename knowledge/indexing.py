"""The indexing pipeline: files, uploads, links and texts become documents in the store and the
search index. Parsing, chunking and embedding run in worker threads; unchanged text (same hash, same
model) is never embedded twice; documents are written in batches of one transaction each, and a
document that fails costs only itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from . import ingest, retrieval
from .backends.interface import DocumentStore, DocumentWrite, SearchIndex, Written, inserted_document
from .clock import utcnow
from .config import KnowledgeConfig
from .embed import Embedder
from .errors import DatabaseError, DocumentNotFound, DuplicateDocument, EmptyDocument, FileTooLarge, KnowledgeError
from .files import expand_paths, read_checked
from .models import Document, IndexReport
from .prepare import Prepared, TextItem, passage_count, prepare, prepare_file
from .scope import scope_of
from .text import sha256

log = logging.getLogger(__name__)


async def embed_missing(store: DocumentStore, embedder: Embedder) -> None:
    """Passages without a vector of the current model (the model setting changed, or an old
    database): embed them now, so vectors of two models are never mixed in one index."""
    missing = await store.passages_missing_vectors(embedder.model_id)
    if not missing:
        return
    log.info("embedding %d passages for model %s", len(missing), embedder.model_id)
    texts = [retrieval.passage_embedding_text(title, text) for _, title, text in missing]
    vectors = await asyncio.to_thread(embedder.encode, texts, bulk=True)
    await store.add_vectors(embedder.model_id, list(zip([m[0] for m in missing], vectors, strict=True)))


class Indexer:
    """Writes documents into ``store`` and ``index``, one writer at a time: documents are indexed one
    transaction after another, and the index is updated in the same order."""

    def __init__(self, config: KnowledgeConfig, embedder: Embedder, store: DocumentStore, index: SearchIndex) -> None:
        self.config = config
        self.embedder = embedder
        self.store = store
        self.index = index
        self._write_lock = asyncio.Lock()

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    async def add_file(self, path: Path | str, *, guild_id: int | None = None, title: str | None = None) -> Document:
        item = await self._read_file(Path(path), guild_id=guild_id, title=title)
        return _single(await self.index_items([item]))

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
        return _single(await self.index_items([item]))

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
        return _single(await self.index_items([item]))

    async def add_texts(self, items: Sequence[TextItem], *, guild_id: int | None = None) -> IndexReport:
        """Index many texts at once: embeddings are computed in large batches across documents, and
        each batch is written in one transaction. Failures are reported, not raised."""
        report = IndexReport()
        pending: list[Prepared | KnowledgeError] = []

        async def flush() -> None:
            for result in await self.index_items(pending):
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
        skip_removed: bool = False,
    ) -> IndexReport:
        """Index files and folders incrementally: an unchanged file (same content hash) embeds
        nothing, a changed one replaces its passages. A failing file never stops the batch; its
        error is in the report. ``skip_removed`` (start-up seeding): a file whose document a
        moderator removed stays out, unless it has changed since."""
        report = IndexReport()
        batch: list[tuple[Path, Prepared | KnowledgeError]] = []
        passages = 0

        async def flush() -> None:
            nonlocal passages
            results = await self.index_items([item for _, item in batch])
            for (path, item), result in zip(batch, results, strict=True):
                if isinstance(result, DuplicateDocument) and (same := await self._indexed_meanwhile(path, item)):
                    # Another process (a second `newsdesk index`, another shard) indexed this very
                    # file between the check below and this write: the outcome of a run after it.
                    report.unchanged.append(same)
                    status = "unchanged"
                elif isinstance(result, Exception):
                    # INFO: the error is in the report, and each caller shows it its own way (the
                    # console and the CLI print it, a command replies with it, the bot's seeds log it).
                    log.info("not indexed: %s", result)
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
                if skip_removed and await self.store.removed_file_hash(str(path), guild_id) == sha256(data):
                    report.removed.append(path)
                    if progress:
                        progress(path, "removed earlier")
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

    async def _indexed_meanwhile(self, path: Path, item: Prepared | KnowledgeError) -> Document | None:
        """The document stored for ``path`` now, if it holds the content ``item`` was refused for
        (the check ``index_paths`` makes before writing, made again)."""
        if not isinstance(item, Prepared):
            return None
        stored = await self.store.find_by_origin(str(path), item.doc.guild_id)
        return stored if stored is not None and stored.content_hash == item.doc.content_hash else None

    # ------------------------------------------------------------------ the pipeline

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

    async def index_items(self, items: Sequence[Prepared | KnowledgeError]) -> list[Document | KnowledgeError]:
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
            # The search index takes the written documents in one step (PostgreSQL wrote its index
            # rows in the documents' transaction; the in-memory index publishes both sides at once).
            await self.index.add_documents(
                [
                    Written(w, *ok)
                    for w, ok in zip(writes, written, strict=True)
                    if not isinstance(ok, DuplicateDocument)
                ]
            )
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
            await self.index.remove_document(doc_id)
            await self.store.record_removed_file(doc)  # start-up seeding leaves its file out
        return doc

    async def index_prepared(self, item: Prepared) -> Document:
        """Index one parsed and prepared document (``prepare.prepare_file``)."""
        [result] = await self.index_items([item])
        if isinstance(result, Exception):
            raise result
        return result


# Passages embedded together (across documents). One encode call sorts its texts by length, so few
# large calls waste less on padding than many small ones: measured on 642 news passages, three calls
# of 256 documents took 25% longer than one call. Small enough that a progress bar still moves
# (about a minute on 2 CPU cores) and memory stays flat on big folders.
_BATCH_PASSAGES = 2048
# Texts parsed per worker-thread call by ``add_texts``.
_PREPARE_DOCUMENTS = 256


def _attempt(fn: Callable, *args):
    try:
        return fn(*args)
    except KnowledgeError as e:
        return e


def _single(results: list) -> Document:
    if isinstance(results[0], Exception):
        raise results[0]
    return results[0]
