"""The storage seam: what the rest of newsdesk may ask of an engine, and nothing more.

- ``DocumentStore``: documents, passages and their vectors (indexing writes them, search, answers
  and briefings read them).
- ``RecordStore``: the log and setup store: the interaction log and briefing posts (``LogStore``),
  server settings and ask channels (``SetupStore``), news feeds (``FeedStore``). Feature code asks
  for the narrowest of these.
- ``SearchIndex``: both sides of search (dense and lexical) over the stored passages.
- ``Backend``: one opened engine: its store, its search index, closing.

``Store`` is a ``DocumentStore`` and a ``RecordStore`` at once (each engine keeps all of them on one
connection). Each engine (``sqlite/``, ``postgres/``) implements these; ``backends.open_backend``
picks one from the database setting. Nothing outside this package names an engine's classes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from ..clock import iso, parse_ts
from ..models import Document, Feed, GuildSettings, Interaction, NewDocument, NewPassage, Passage, UsageStats
from ..plain import plural
from ..scope import Scope

# ---------------------------------------------------------------------------- what crosses the seam


@dataclass(frozen=True)
class DocumentWrite:
    """One document for ``DocumentStore.insert_documents``: its passages, a vector per passage, and
    the document it replaces, if any."""

    doc: NewDocument
    passages: Sequence[NewPassage]
    vectors: np.ndarray
    replace_id: int | None = None
    added_at: dt.datetime | None = None


@dataclass(frozen=True)
class Written:
    """A document the store wrote: what was written, its id and its passages' ids (row for row)."""

    write: DocumentWrite
    doc_id: int
    passage_ids: list[int]


def inserted_document(doc: NewDocument, doc_id: int, passages: int, added_at: dt.datetime) -> Document:
    """The ``Document`` that ``get_document`` reads back for a row just written with
    ``added_at``: saves one query per indexed document."""
    return Document(
        id=doc_id,
        title=doc.title,
        source=doc.source,
        published=doc.published,
        author=doc.author,
        guild_id=doc.guild_id,
        origin=doc.origin,
        content_hash=doc.content_hash,
        added_at=parse_ts(iso(added_at)),
        passages=passages,
        words=doc.words,
        published_precision=doc.published_precision,
    )


class Export(NamedTuple):
    """Documents as stored, for a migration: their rows (every column, by name), their passages'
    rows (in order) and their vectors per model and passage id."""

    documents: list[Any]
    passages: list[Any]
    vectors: dict[str, dict[int, np.ndarray]]


@dataclass(frozen=True)
class Scored:
    """Both sides' candidates for one question, (passage id, score) best first, and the moment of
    the index they were scored on (``view``, opaque): later steps of the same question (the term
    statistics of an answer) read that moment, not a later one."""

    dense: list[tuple[int, float]]
    bm25: list[tuple[int, float]]
    view: object = None


@dataclass
class CopyReport:
    """What a copy into another database did (``backends.copy_store``)."""

    documents: int = 0
    already_there: int = 0
    passages: int = 0
    vectors: int = 0
    interactions: int = 0
    briefing_posts: int = 0

    def summary(self) -> str:
        return (
            f"copied {plural(self.documents, 'document')} ({self.already_there} already there),"
            f" {plural(self.passages, 'passage')}, {plural(self.vectors, 'vector')},"
            f" {plural(self.interactions, 'interaction-log row')}, {plural(self.briefing_posts, 'briefing record')}"
        )


# ---------------------------------------------------------------------------- stores


class DocumentStore(Protocol):
    """Documents, passages and vectors. A document is written with all its passages and vectors in
    one transaction, so a crash never leaves half a document."""

    async def find_by_hashes(self, keys: Iterable[tuple[str, int | None]]) -> dict[tuple[str, int], Document]:
        """The documents of (content hash, guild id) pairs, keyed by (hash, ``scope_of(guild id)``)."""
        ...

    async def find_by_origin(self, origin: str, guild_id: int | None) -> Document | None: ...

    async def insert_document(
        self,
        doc: NewDocument,
        passages: Sequence[NewPassage],
        vectors: np.ndarray,
        model: str,
        *,
        replace_id: int | None = None,
        added_at: dt.datetime | None = None,
    ) -> tuple[int, list[int]]:
        """Write one document (replacing ``replace_id`` in the same transaction); its id and its
        passages' ids. ``DuplicateDocument`` when its content is already stored in its scope."""
        ...

    async def insert_documents(self, writes: Sequence[DocumentWrite], model: str) -> list[tuple[int, list[int]]]:
        """Many documents in one transaction, all or nothing."""
        ...

    async def delete_document(self, doc_id: int) -> list[int]:
        """Delete a document with its passages and vectors; the deleted passages' ids."""
        ...

    async def record_removed_file(self, doc: Document) -> None:
        """Remember that the file ``doc`` was read from (its origin) was removed, with its hash."""
        ...

    async def removed_file_hash(self, origin: str, guild_id: int | None) -> str | None:
        """The content hash the file at ``origin`` had when its document was removed; None if never."""
        ...

    async def get_document(self, doc_id: int) -> Document | None: ...

    async def list_documents(
        self,
        *,
        scope: int | None = None,
        limit: int | None = None,
        offset: int = 0,
        added_since: dt.datetime | None = None,
        added_until: dt.datetime | None = None,
        published_from: dt.date | None = None,
        published_to: dt.date | None = None,
        title_like: str | None = None,
    ) -> list[Document]: ...

    async def count_documents(self, *, scope: int | None = None) -> int: ...

    async def count_passages(self) -> int: ...

    async def document_text(self, doc_id: int) -> str | None: ...

    async def document_texts(self, doc_ids: Iterable[int]) -> dict[int, str]: ...

    async def passages_with_documents(self, passage_ids: Sequence[int]) -> dict[int, tuple[Passage, Document]]: ...

    async def passages_of_documents(self, doc_ids: Sequence[int]) -> list[Passage]: ...

    async def vectors_by_hash(self, model: str, hashes: Iterable[str]) -> dict[str, bytes]:
        """Stored float32 vectors of ``model`` by passage text hash: unchanged text is never embedded twice."""
        ...

    async def passages_missing_vectors(self, model: str) -> list[tuple[int, str, str]]:
        """(passage id, document title, passage text) of passages without a vector of ``model``."""
        ...

    async def add_vectors(self, model: str, rows: Sequence[tuple[int, np.ndarray]]) -> None: ...

    # What a migration reads of its source.

    async def document_ids(self) -> list[int]: ...

    async def export_documents(self, ids: Sequence[int]) -> Export: ...

    async def issued_ids(self) -> dict[str, int]:
        """The largest id each table ever gave out, where the engine remembers removed rows' ids."""
        ...


class LogStore(Protocol):
    """The interaction log and the briefing posts."""

    async def log_interaction(
        self,
        kind: str,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
        input: str | None = None,
        outcome: str | None = None,
        answer: str | None = None,
        passage_ids: Sequence[int] = (),
        scores: Sequence[float] = (),
        latency_ms: float | None = None,
        ref_id: int | None = None,
        at: dt.datetime | None = None,
    ) -> int: ...

    async def interactions(
        self, *, since: dt.datetime | None = None, guild_id: int | None = None, kind: str | None = None
    ) -> list[Interaction]: ...

    async def interaction(self, row_id: int) -> Interaction | None: ...

    async def interaction_stats(
        self,
        *,
        guild_id: int | None = None,
        days: int = 7,
        now: dt.datetime | None = None,
        question_kinds: Sequence[str] = ("ask", "mention", "followup"),
        top: int = 5,
    ) -> UsageStats: ...

    async def briefing_posted(self, channel_id: int, day: dt.date) -> bool: ...

    async def record_briefing_post(
        self,
        *,
        channel_id: int,
        day: dt.date,
        guild_id: int | None = None,
        message_id: int | None = None,
        at: dt.datetime | None = None,
    ) -> bool:
        """Record a post; False when that channel already had its briefing for that day (in any process)."""
        ...

    async def last_briefing_at(self, channel_id: int) -> dt.datetime | None: ...

    async def export_log(self) -> list[Any]: ...

    async def export_briefing_posts(self) -> list[Any]: ...


class SetupStore(Protocol):
    """What servers set up from Discord: their briefing, moderator role and ask channels."""

    async def guild_settings(self, guild_id: int) -> GuildSettings: ...

    async def set_guild_briefing(self, guild_id: int, *, channel_id: int, at: dt.time, tz: str) -> None: ...

    async def disable_guild_briefing(self, guild_id: int) -> bool: ...

    async def set_guild_moderator_role(self, guild_id: int, role_id: int | None) -> None: ...

    async def guild_briefings(self) -> list[GuildSettings]: ...

    async def toggle_ask_channel(self, guild_id: int, channel_id: int) -> bool: ...

    async def ask_channels(self, guild_id: int | None = None) -> list[int]: ...


class FeedStore(Protocol):
    """News feeds and the entries already seen."""

    async def insert_feed(self, *, guild_id: int | None, url: str, title: str) -> Feed | None: ...

    async def feed(self, feed_id: int) -> Feed | None: ...

    async def feed_by_url(self, url: str, guild_id: int | None) -> Feed | None: ...

    async def delete_feed(self, feed_id: int) -> bool: ...

    async def list_feeds(self, *, scope: Scope = None) -> list[Feed]: ...

    async def feeds_due(self, now: dt.datetime) -> list[Feed]: ...

    async def record_feed_success(
        self, feed_id: int, *, at: dt.datetime, next_poll_at: dt.datetime, etag: str | None, last_modified: str | None
    ) -> None: ...

    async def record_feed_failure(
        self, feed_id: int, *, at: dt.datetime, error: str, next_poll_at: dt.datetime
    ) -> int: ...

    async def feed_entry_seen(self, feed: Feed, *, entry_key: str, content_hash: str) -> bool: ...

    async def record_feed_entry(
        self, feed_id: int, *, entry_key: str, content_hash: str, document_id: int | None, at: dt.datetime
    ) -> None: ...


class RecordStore(LogStore, SetupStore, FeedStore, Protocol):
    """The log and setup store: everything kept besides the documents."""


class Store(DocumentStore, RecordStore, Protocol):
    """An engine's whole store, on one connection (pool)."""

    async def schema_version(self) -> int: ...

    async def close(self) -> None: ...


# ---------------------------------------------------------------------------- search


class SearchIndex(Protocol):
    """Both sides of search over the stored passages that have a vector of one model: dense
    (cosine) and lexical (BM25, ``backends.lexical``)."""

    async def search(
        self,
        vector: np.ndarray,
        terms: Sequence[str],
        n: int,
        *,
        scope: int | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        words: str,
    ) -> Scored:
        """The ``n`` best passages by each side, with one filter for both: ``vector`` the embedded
        question, ``terms`` its index tokens, ``words`` its content words (for an engine that
        tokenises them itself), ``scope`` as ``scope.Scope``, dates inclusive (an undated passage
        passes no date bound)."""
        ...

    async def term_statistics(self, terms: Sequence[str], view: object | None) -> tuple[dict[str, int], int]:
        """The document frequencies of ``terms`` and the passage count, as of ``view`` (a
        ``Scored.view`` of this index) where the engine keeps moments, else now."""
        ...

    async def vectors(self, pids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored vectors of passages (those with one of the index's model)."""
        ...

    async def size(self) -> int:
        """How many passages search can find."""
        ...

    async def add_documents(self, written: Sequence[Written]) -> None:
        """Documents the store has just written (a replaced document's old version goes in the same
        step): a question sees both sides of each at once, or neither."""
        ...

    async def remove_document(self, doc_id: int) -> None:
        """A document the store has just deleted."""
        ...

    async def close(self) -> None:
        """Keep what the next start can reuse; before the store closes."""
        ...


# ---------------------------------------------------------------------------- an opened engine


class Backend(Protocol):
    """One opened engine (``backends.open_backend``)."""

    @property
    def engine(self) -> str:
        """The engine's name in the registry: "sqlite" or "postgres"."""
        ...

    @property
    def store(self) -> Store: ...

    def opening(self) -> AbstractContextManager[None]:
        """Around the first reads after opening (vectors to embed, the index to load): the engine's
        own errors there become one ``DatabaseError`` naming the database."""
        ...

    async def search_index(self, model: str) -> SearchIndex:
        """The search index over the passages with a vector of ``model``."""
        ...

    async def close(self) -> None: ...
