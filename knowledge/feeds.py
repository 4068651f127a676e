"""News feeds (RSS 2.0, Atom and whatever else ``feedparser`` reads): following one, polling it, and
indexing each new entry into the documents of the scope that follows it.

A new entry's article page is fetched through ``ingest.fetch_url`` (the same size limit and address
checks as ``/doc add url``); when the page can't be fetched or cleaned, the entry's own content is
indexed instead. Entries already seen (by GUID or link, or by the hash of their content) are
skipped, a feed that fails is polled less often (``backoff``) and its error is kept for
``/feed list``, and polls are conditional GETs: a 304 costs no parsing and fetches nothing else."""

from __future__ import annotations

import calendar
import datetime as dt
import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import feedparser

from . import ingest
from .backends.interface import FeedStore
from .config import KnowledgeConfig
from .errors import DuplicateDocument, KnowledgeError, NotAFeed
from .models import Document, Feed
from .prepare import Prepared, prepare
from .text import sha256

log = logging.getLogger(__name__)

# New entries indexed per poll: a feed added with 500 entries in it must not fetch 500 pages at once;
# the newest come first and the rest are left unseen (and so picked up by later polls, newest first).
MAX_NEW_ENTRIES = 20
# Backoff of a failing feed: the poll interval doubled per failure in a row, at most a day.
MAX_BACKOFF = dt.timedelta(hours=24)


@dataclass(frozen=True)
class FeedEntry:
    key: str  # GUID, else link
    title: str
    link: str | None
    published: dt.date | None
    content: str  # plain text of the entry's content or summary
    content_hash: str


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    entries: list[FeedEntry]


@dataclass
class FeedPoll:
    """What one poll of one feed did."""

    feed: Feed
    added: list[Document] = field(default_factory=list)
    skipped: int = 0  # entries already seen, or with nothing to index
    not_modified: bool = False
    error: str | None = None


def backoff(interval: dt.timedelta, failures: int) -> dt.timedelta:
    """How long a feed that failed ``failures`` times in a row waits before the next try."""
    return min(interval * (2 ** min(max(failures, 1) - 1, 10)), MAX_BACKOFF)


_BREAKS = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/blockquote)\b[^>]*>", re.I)
_TAGS = re.compile(r"<[^>]+>")


def plain_text(markup: str) -> str:
    """An entry's HTML content as paragraphs of plain text (feeds embed escaped HTML snippets that
    trafilatura judges too short to be an article)."""
    text = _TAGS.sub(" ", _BREAKS.sub("\n\n", markup))
    paragraphs = (" ".join(html.unescape(p).split()) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paragraphs if p)


def _date(entry: Any) -> dt.date | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(name)
        if value:
            return dt.datetime.fromtimestamp(calendar.timegm(value), dt.UTC).date()
    return None


def _content(entry: Any) -> str:
    parts = entry.get("content") or []
    best = max((p.get("value") or "" for p in parts), key=len, default="")
    return plain_text(best or entry.get("summary") or entry.get("description") or "")


def parse_feed(data: bytes, shown: str) -> ParsedFeed:
    """A feed's title and entries (newest first as published); ``NotAFeed`` for anything
    feedparser can't read as a feed (a web page, broken XML without a single entry)."""
    parsed = feedparser.parse(data)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        log.info("%s is not a feed: %r", shown, reason)
        raise NotAFeed(f"{shown}: not an RSS or Atom feed")
    entries = []
    for raw in parsed.entries:
        title = " ".join((raw.get("title") or "").split())
        link = raw.get("link") or None
        content = _content(raw)
        if not (title or content):
            continue
        digest = sha256(f"{title}\n{content}")
        entries.append(
            FeedEntry(
                key=raw.get("id") or link or digest,
                title=title,
                link=link,
                published=_date(raw),
                content=content,
                content_hash=digest,
            )
        )
    return ParsedFeed(title=" ".join((parsed.feed.get("title") or "").split()) or None, entries=entries)


# ---------------------------------------------------------------------------- polling and indexing


class EntryIndexer(Protocol):
    """What indexing a feed's entries needs (``indexing.Indexer`` is one)."""

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
    ) -> Document: ...

    async def index_prepared(self, build: Callable[[], Prepared]) -> Document: ...


async def fetch_parsed(
    config: KnowledgeConfig, url: str, feed: Feed | None = None
) -> tuple[ingest.FeedResponse, ParsedFeed | None]:
    response = await ingest.fetch_feed(
        url,
        max_bytes=config.max_file_bytes,
        timeout_s=config.url_timeout_s,
        allow=config.fetch_allow,
        etag=feed.etag if feed else None,
        last_modified=feed.last_modified if feed else None,
    )
    if response.not_modified:
        return response, None
    return response, parse_feed(response.data, ingest.short_url(url))


async def poll_feed(
    feed: Feed,
    *,
    records: FeedStore,
    indexer: EntryIndexer,
    config: KnowledgeConfig,
    now: dt.datetime,
    interval: dt.timedelta,
) -> FeedPoll:
    """Poll one feed and index its new entries. Never raises a ``KnowledgeError``: a failure is
    logged, recorded on the feed (its error, its backoff) and returned."""
    result = FeedPoll(feed)
    try:
        response, parsed = await fetch_parsed(config, feed.url, feed)
    except KnowledgeError as e:
        result.error = str(e)
        failures = feed.failures + 1
        await records.record_feed_failure(feed.id, at=now, error=str(e), next_poll_at=now + backoff(interval, failures))
        log.error("feed #%d %s failed (%d in a row): %s", feed.id, ingest.short_url(feed.url), failures, e)
        return result
    if parsed is None:
        result.not_modified = True
    else:
        fresh = []
        for entry in parsed.entries:
            if await records.feed_entry_seen(feed, entry_key=entry.key, content_hash=entry.content_hash):
                result.skipped += 1
            else:
                fresh.append(entry)
        for entry in fresh[:MAX_NEW_ENTRIES]:
            doc = await index_entry(indexer, config, feed, entry, source=parsed.title or feed.title)
            if doc is None:
                result.skipped += 1
            else:
                result.added.append(doc)
            await records.record_feed_entry(
                feed.id,
                entry_key=entry.key,
                content_hash=entry.content_hash,
                document_id=doc.id if doc else None,
                at=now,
            )
    # Due again at the next tick of the poll loop, which sets the pace; only failures push it later.
    await records.record_feed_success(
        feed.id, at=now, next_poll_at=now, etag=response.etag, last_modified=response.last_modified
    )
    if result.added:
        log.info("feed #%d: %d new entries indexed", feed.id, len(result.added))
    return result


async def index_entry(
    indexer: EntryIndexer, config: KnowledgeConfig, feed: Feed, entry: FeedEntry, *, source: str
) -> Document | None:
    """Index one entry: its article page when it can be fetched and cleaned, else its own content;
    None when neither gives a document (empty, or the same text is already indexed here)."""
    title = entry.title or None
    if entry.link:
        try:
            return await _index_page(indexer, config, feed, entry, source=source)
        except DuplicateDocument:
            return None  # the article itself is already indexed here (a /doc add url, another feed)
        except KnowledgeError as e:
            log.info("feed #%d: the page of %r is not used (%s); indexing the entry's content", feed.id, title, e)
    if not entry.content:
        return None
    try:
        return await indexer.add_text(
            entry.content,
            guild_id=feed.guild_id,
            title=title or "",
            source=source,
            published=entry.published,
            origin=entry.link or f"feed {feed.url}",
        )
    except KnowledgeError as e:
        log.info("feed #%d: entry %r not indexed: %s", feed.id, title, e)
        return None


async def _index_page(
    indexer: EntryIndexer, config: KnowledgeConfig, feed: Feed, entry: FeedEntry, *, source: str
) -> Document:
    assert entry.link is not None, "only entries with a link have a page"
    data, filename = await ingest.fetch_url(
        entry.link, max_bytes=config.max_file_bytes, timeout_s=config.url_timeout_s, allow=config.fetch_allow
    )

    def prepared():
        parsed = ingest.parse_bytes(data, filename, max_bytes=config.max_file_bytes)
        # The feed knows the date and the title for sure; a page's own guesses come second.
        parsed = ingest.with_metadata(parsed, source=parsed.source or source, published=entry.published)
        return prepare(
            parsed,
            content_hash=sha256(data),
            origin=ingest.strip_credentials(entry.link or ""),
            guild_id=feed.guild_id,
            title=entry.title or None,
            name=filename,
        )

    return await indexer.index_prepared(prepared)
