"""News feeds (RSS 2.0, Atom and whatever else ``feedparser`` reads): following one, polling it, and
indexing each new entry into the documents of the scope that follows it.

A new entry's article page is fetched through ``ingest.fetch_url`` (the same size limit and address
checks as ``/doc add url``); when the page can't be fetched or cleaned, the entry's own content is
indexed instead. Entries already seen (by GUID or link, or by the hash of their content) are
skipped, a feed that fails is polled less often (``backoff``) and its error is kept for
``/feed list``, and polls are conditional GETs: a 304 costs no parsing and fetches nothing else.

A feed is untrusted input: a feed of 100,000 short entries (9.9 MB, under the size cap) once froze
the event loop for 74.6 s, parsed on the loop in full at every poll. Now a feed is parsed in a
worker process (``workers``) and only its first entries are parsed at all (``_first_entries``),
of which the newest ``KnowledgeConfig.feed_entries`` are looked at; every poll of a feed has a time
budget that the feed fetch, the parse and every article page share (``KnowledgeConfig.feed_budget_s``:
before, one feed could fetch 20 pages each allowed the full URL timeout, five minutes); and due
feeds are polled concurrently, at most ``FEED_CONCURRENCY`` at once, so a slow feed holds up no
other."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import html
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import feedparser

from . import ingest
from .backends.interface import FeedStore
from .config import KnowledgeConfig
from .errors import DuplicateDocument, KnowledgeError, NotAFeed
from .models import Document, Feed
from .prepare import Prepared, prepare_file
from .text import sha256
from .workers import JobTimeout, run_in_worker

log = logging.getLogger(__name__)

# New entries indexed per poll: a feed added with 500 entries in it must not fetch 500 pages at once;
# the newest come first and the rest are left unseen (and so picked up by later polls, newest first).
MAX_NEW_ENTRIES = 20
# Backoff of a failing feed: the poll interval doubled per failure in a row, at most a day.
MAX_BACKOFF = dt.timedelta(hours=24)
# Feeds polled at once: enough that one slow feed does not hold up the rest, few enough that a
# server following hundreds of feeds does not open hundreds of connections at once.
FEED_CONCURRENCY = 4
# Entries parsed per poll, in the document's order, as a multiple of the newest kept: feeds list
# the newest first, and the margin lets a feed that is slightly out of order still yield its newest.
_SCAN_FACTOR = 4
# Below this much budget left, a poll indexes no more pages (the rest wait for the next poll).
_MIN_STEP_S = 1.0


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


_ENTRY_END = re.compile(rb"</(?:[\w.-]+:)?(?:item|entry)\s*>", re.I)


def _first_entries(data: bytes, limit: int) -> bytes:
    """The feed with only its first ``limit`` entries: everything from the end of the ``limit``-th
    entry to the end of the last is cut, so the document stays well-formed (its channel and closing
    tags are kept) and feedparser's work is bounded whatever the feed holds."""
    cut = last = None
    for i, match in enumerate(_ENTRY_END.finditer(data), start=1):
        if i == limit:
            cut = match.end()
        last = match.end()
    if cut is None or last is None or last == cut:
        return data
    return data[:cut] + data[last:]


def parse_feed(data: bytes, shown: str, *, newest: int | None = None) -> ParsedFeed:
    """A feed's title and entries; with ``newest``, only the newest that many (by date, undated
    ones last, in the feed's order) of its first ``_SCAN_FACTOR`` times as many. ``NotAFeed`` for
    anything feedparser can't read as a feed (a web page, broken XML without a single entry).
    CPU-bound: run it in a worker (``parse_feed_in_worker``)."""
    if newest is not None:
        data = _first_entries(data, max(1, newest) * _SCAN_FACTOR)
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
    if newest is not None:
        # sorted() is stable: entries of one day, and undated ones, keep the feed's order.
        entries = sorted(entries, key=lambda e: e.published or dt.date.min, reverse=True)[:newest]
    return ParsedFeed(title=" ".join((parsed.feed.get("title") or "").split()) or None, entries=entries)


async def parse_feed_in_worker(data: bytes, shown: str, *, newest: int, timeout_s: float) -> ParsedFeed:
    try:
        return await run_in_worker(functools.partial(parse_feed, data, shown, newest=newest), timeout_s=timeout_s)
    except JobTimeout:
        raise NotAFeed(f"{shown}: reading the feed took over {timeout_s:g} s") from None


class _Budget:
    """What is left of one poll's time budget (monotonic clock)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self._deadline - time.monotonic()

    def timeout(self, limit: float) -> float:
        """A step's timeout: its own limit, or what is left of the budget when that is less."""
        return max(0.001, min(limit, self.left()))


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

    async def index_prepared(self, item: Prepared) -> Document: ...


async def fetch_parsed(
    config: KnowledgeConfig, url: str, feed: Feed | None = None, budget: _Budget | None = None
) -> tuple[ingest.FeedResponse, ParsedFeed | None]:
    budget = budget or _Budget(config.feed_budget_s)
    response = await ingest.fetch_feed(
        url,
        max_bytes=config.max_file_bytes,
        timeout_s=budget.timeout(config.url_timeout_s),
        allow=config.fetch_allow,
        etag=feed.etag if feed else None,
        last_modified=feed.last_modified if feed else None,
    )
    if response.not_modified:
        return response, None
    parsed = await parse_feed_in_worker(
        response.data,
        ingest.short_url(url),
        newest=config.feed_entries,
        timeout_s=budget.timeout(config.feed_budget_s),
    )
    return response, parsed


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
    budget = _Budget(config.feed_budget_s)
    try:
        response, parsed = await fetch_parsed(config, feed.url, feed, budget)
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
            if budget.left() < _MIN_STEP_S:
                # Out of time: the entries left are not recorded, so the next poll takes them up.
                log.info(
                    "feed #%d: its %g s budget is spent; the rest waits for the next poll", feed.id, budget.seconds
                )
                break
            doc = await index_entry(indexer, config, feed, entry, source=parsed.title or feed.title, budget=budget)
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
    indexer: EntryIndexer,
    config: KnowledgeConfig,
    feed: Feed,
    entry: FeedEntry,
    *,
    source: str,
    budget: _Budget | None = None,
) -> Document | None:
    """Index one entry: its article page when it can be fetched and cleaned (within ``budget``),
    else its own content; None when neither gives a document (empty, or the same text is already
    indexed here)."""
    title = entry.title or None
    if entry.link:
        try:
            return await _index_page(
                indexer, config, feed, entry, source=source, budget=budget or _Budget(config.feed_budget_s)
            )
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
    indexer: EntryIndexer, config: KnowledgeConfig, feed: Feed, entry: FeedEntry, *, source: str, budget: _Budget
) -> Document:
    assert entry.link is not None, "only entries with a link have a page"
    data, filename = await ingest.fetch_url(
        entry.link,
        max_bytes=config.max_file_bytes,
        timeout_s=budget.timeout(config.url_timeout_s),
        allow=config.fetch_allow,
    )
    # The feed knows the date and the title for sure; a page's own guesses come second.
    return await indexer.index_prepared(
        await prepare_file(
            config,
            data,
            filename,
            origin=ingest.strip_credentials(entry.link or ""),
            guild_id=feed.guild_id,
            title=entry.title or None,
            source=source,
            published=entry.published,
        )
    )
