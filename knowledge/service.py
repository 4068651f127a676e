"""``KnowledgeBase``: the one async service the CLI and the bot share.

It opens the configured storage engine (``backends.open_backend``: a SQLite file with the index in
memory, or PostgreSQL with pgvector where the database searches and several processes share one
collection) and offers everything the product does over it: indexing (``indexing.Indexer``),
search, answers and briefings (``retrieval``, ``answer``, ``briefing``, which read only a
``Corpus``), the interaction log, and server setup (``servers.ServerSetup``). Everything CPU-bound
(parsing, embedding, scoring) runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from . import backends, retrieval, termweights
from .answer import decide, read_question
from .backends.interface import Backend, SearchIndex, Store
from .briefing import build_briefing
from .clock import utcnow
from .config import KnowledgeConfig
from .embed import Embedder, SentenceTransformerEmbedder
from .errors import DocumentNotFound
from .feeds import FeedPoll
from .indexing import Indexer, embed_missing
from .models import Answer, Briefing, Document, Feed, GuildSettings, IndexReport, Interaction, SearchHit, UsageStats
from .prepare import TextItem
from .question import normalise_question
from .scope import GLOBAL_SCOPE, Scope
from .servers import DEFAULT_FEED_INTERVAL, ServerSetup

__all__ = ["KnowledgeBase", "TextItem"]


class KnowledgeBase:
    def __init__(self, config: KnowledgeConfig, *, embedder: Embedder | None = None) -> None:
        self._config = config
        self.embedder: Embedder = embedder or SentenceTransformerEmbedder(
            config.model,
            query_threads=config.query_threads,
            index_threads=config.index_threads,
            batch_size=config.embed_batch_size,
            freeze_heap=config.freeze_heap,
        )
        self._backend: Backend | None = None
        self._index: SearchIndex | None = None
        self._indexer: Indexer | None = None
        self._setup: ServerSetup | None = None

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(cls, config: KnowledgeConfig, *, embedder: Embedder | None = None) -> KnowledgeBase:
        kb = cls(config, embedder=embedder)
        await kb.start()
        return kb

    async def start(self) -> None:
        backend = self._backend = await backends.open_backend(self.config)
        try:
            with backend.opening():
                await embed_missing(backend.store, self.embedder)
                index = self._index = await backend.search_index(self.model_id)
            # The word list behind answer-sentence weights, read now rather than during the first
            # question (about a second).
            await asyncio.to_thread(termweights.warm)
        except BaseException:
            # Closed on every path: a connection left open keeps the failed process alive.
            await self.close()
            raise
        self._indexer = indexer = Indexer(self.config, self.embedder, backend.store, index)
        self._setup = ServerSetup(self.config, backend.store, indexer)

    async def close(self) -> None:
        backend, index = self._backend, self._index
        self._backend = self._index = self._indexer = self._setup = None
        if backend is not None:
            try:
                if index is not None:
                    await index.close()  # the SQLite engine saves its index's cache
            finally:
                await backend.close()

    async def __aenter__(self) -> KnowledgeBase:
        if self._backend is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def config(self) -> KnowledgeConfig:
        return self._config

    @config.setter
    def config(self, config: KnowledgeConfig) -> None:
        """New settings reach the parts already open (the storage engine stays the one opened)."""
        self._config = config
        for part in (self._indexer, self._setup):
            if part is not None:
                part.config = config

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            raise RuntimeError("KnowledgeBase is not open")
        return self._backend

    @property
    def store(self) -> Store:
        return self.backend.store

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            raise RuntimeError("KnowledgeBase is not open")
        return self._index

    @property
    def indexer(self) -> Indexer:
        if self._indexer is None:
            raise RuntimeError("KnowledgeBase is not open")
        return self._indexer

    @property
    def setup(self) -> ServerSetup:
        if self._setup is None:
            raise RuntimeError("KnowledgeBase is not open")
        return self._setup

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    # ------------------------------------------------------------------ documents (indexing.Indexer)

    async def add_file(self, path: Path | str, *, guild_id: int | None = None, title: str | None = None) -> Document:
        return await self.indexer.add_file(path, guild_id=guild_id, title=title)

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
        return await self.indexer.add_bytes(data, filename, guild_id=guild_id, title=title, origin=origin)

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
        return await self.indexer.add_text(
            text, guild_id=guild_id, title=title, source=source, published=published, origin=origin, added_at=added_at
        )

    async def add_texts(self, items: Sequence[TextItem], *, guild_id: int | None = None) -> IndexReport:
        """Index many texts at once (embedded in large batches, written a batch per transaction);
        failures are reported, not raised."""
        return await self.indexer.add_texts(items, guild_id=guild_id)

    async def add_url(self, url: str, *, guild_id: int | None = None, title: str | None = None) -> Document:
        return await self.indexer.add_url(url, guild_id=guild_id, title=title)

    async def index_paths(
        self,
        paths: Iterable[Path | str],
        *,
        guild_id: int | None = None,
        progress: Callable[[Path, str], None] | None = None,
        skip_removed: bool = False,
    ) -> IndexReport:
        """Index files and folders incrementally (an unchanged file embeds nothing); a failing file
        never stops the batch, its error is in the report. ``skip_removed`` (start-up seeding): a
        file whose document was removed stays out until it changes."""
        return await self.indexer.index_paths(paths, guild_id=guild_id, progress=progress, skip_removed=skip_removed)

    async def remove_document(self, doc_id: int, *, guild_id: int | None = None) -> Document:
        """Remove a document with its passages and vectors. With ``guild_id`` only that guild's own
        documents can be removed (seeds are shared by every guild)."""
        return await self.indexer.remove_document(doc_id, guild_id=guild_id)

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

    # ------------------------------------------------------------------ server setup (servers.ServerSetup)

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        return await self.setup.guild_settings(guild_id)

    async def set_guild_briefing(self, guild_id: int, *, channel_id: int, at: str, tz: str) -> GuildSettings:
        """Turn on the server's daily briefing; both values are checked before anything is saved."""
        return await self.setup.set_guild_briefing(guild_id, channel_id=channel_id, at=at, tz=tz)

    async def disable_guild_briefing(self, guild_id: int) -> bool:
        return await self.setup.disable_guild_briefing(guild_id)

    async def guild_briefings(self) -> list[GuildSettings]:
        return await self.setup.guild_briefings()

    async def set_guild_moderator_role(self, guild_id: int, role_id: int | None) -> None:
        await self.setup.set_guild_moderator_role(guild_id, role_id)

    async def toggle_ask_channel(self, guild_id: int, channel_id: int) -> bool:
        return await self.setup.toggle_ask_channel(guild_id, channel_id)

    async def ask_channels(self, guild_id: int | None = None) -> list[int]:
        return await self.setup.ask_channels(guild_id)

    async def add_feed(self, url: str, *, guild_id: int | None, title: str | None = None) -> Feed:
        """Follow a feed: fetched and parsed once now, so a link that is not a feed is refused at once."""
        return await self.setup.add_feed(url, guild_id=guild_id, title=title)

    async def remove_feed(self, feed_id: int, *, guild_id: Scope = None) -> Feed:
        return await self.setup.remove_feed(feed_id, guild_id=guild_id)

    async def list_feeds(self, *, scope: Scope = None) -> list[Feed]:
        return await self.setup.list_feeds(scope=scope)

    async def poll_feeds(
        self, *, now: dt.datetime | None = None, interval: dt.timedelta = DEFAULT_FEED_INTERVAL
    ) -> list[FeedPoll]:
        """Poll every feed that is due (a failing one waits out its backoff), one after another."""
        return await self.setup.poll_feeds(now=now, interval=interval)


def _with_latency(answer: Answer, ms: float) -> Answer:
    return replace(answer, latency_ms=round(ms, 1))


def _visible(doc: Document, scope: Scope) -> bool:
    if scope is None:
        return True
    return doc.guild_id is None or (scope != GLOBAL_SCOPE and doc.guild_id == scope)
