"""Documents made ready to index: parsed text becomes a ``NewDocument`` and its passages, with
names cleaned and an untitled text given a display title. Pure and CPU-bound: the service runs it
in worker threads, and a file's parsing and preparing in a worker process (``prepare_file``)."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from . import chunking, ingest
from .config import KnowledgeConfig
from .errors import CorruptFile, EmptyDocument, FileTooComplex, KnowledgeError
from .models import NewDocument
from .text import sha256
from .workers import JobTimeout, run_in_worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextItem:
    """One text to index with ``add_texts`` (evaluation corpora, pasted text)."""

    text: str
    title: str | None = None
    source: str | None = None
    published: dt.date | None = None
    origin: str = "pasted text"
    added_at: dt.datetime | None = None


@dataclass
class Prepared:
    """A document parsed and cut into passages, ready to embed and write."""

    doc: NewDocument
    passages: list
    index_title: str
    name: str
    added_at: dt.datetime | None = None
    replace_id: int | None = None


def passage_count(items: Iterable[Prepared | KnowledgeError]) -> int:
    return sum(len(item.passages) for item in items if isinstance(item, Prepared))


def prepare(
    parsed: ingest.ParsedDocument,
    *,
    content_hash: str,
    origin: str,
    guild_id: int | None,
    title: str | None,
    name: str,
    added_at: dt.datetime | None = None,
) -> Prepared:
    if not parsed.paragraphs:
        raise EmptyDocument(f"{name}: no readable text found")
    # The title that is indexed (FTS title column, embedding prefix) is only a real one; an
    # untitled text gets a display title from its first words, indexed once, as body text.
    index_title = (title if title is not None else parsed.title or "").strip()[:300]
    # Bidi controls go from every name a user gives or a document carries. Not from a file's origin:
    # it must match the path on the next incremental run.
    index_title = ingest.clean_name(index_title)
    doc = NewDocument(
        title=index_title or ingest.clean_name(display_title(parsed.paragraphs[0], name)),
        source=parsed.source and ingest.clean_name(parsed.source),
        published=parsed.published,
        published_precision=parsed.published_precision,
        author=parsed.author and ingest.clean_name(parsed.author),
        guild_id=guild_id,
        origin=origin,
        content_hash=content_hash,
        text=parsed.text,
        words=len(parsed.text.split()),
    )
    passages = chunking.chunk_paragraphs(parsed.paragraphs, title=index_title)
    return Prepared(doc=doc, passages=passages, index_title=index_title, name=name, added_at=added_at)


def prepare_bytes(
    data: bytes,
    filename: str,
    *,
    max_bytes: int,
    max_pages: int,
    origin: str,
    guild_id: int | None,
    title: str | None,
    source: str | None = None,
    published: dt.date | None = None,
) -> Prepared:
    """Parse and prepare one file; ``source`` and ``published``, when given, are surer than the
    file's own (a feed's). Runs in a worker process (``prepare_file``)."""
    parsed = ingest.parse_bytes(data, filename, max_bytes=max_bytes, max_pages=max_pages)
    if source or published:
        parsed = ingest.with_metadata(parsed, source=parsed.source or source, published=published)
    return prepare(parsed, content_hash=sha256(data), origin=origin, guild_id=guild_id, title=title, name=filename)


async def prepare_file(
    config: KnowledgeConfig,
    data: bytes,
    filename: str,
    *,
    origin: str,
    guild_id: int | None,
    title: str | None,
    source: str | None = None,
    published: dt.date | None = None,
) -> Prepared:
    """``prepare_bytes`` in a worker process, stopped at ``config.parse_timeout_s``."""
    job = functools.partial(
        prepare_bytes,
        data,
        filename,
        max_bytes=config.max_file_bytes,
        max_pages=config.max_pdf_pages,
        origin=origin,
        guild_id=guild_id,
        title=title,
        source=source,
        published=published,
    )
    name = ingest.display_name(filename)
    try:
        return await run_in_worker(job, timeout_s=config.parse_timeout_s)
    except JobTimeout:
        raise FileTooComplex(
            f"{name}: reading it took over {config.parse_timeout_s:g} s, the limit; it may be damaged or too complex"
        ) from None
    except BrokenProcessPool:
        log.warning("the reader's process died on %s", name)
        raise CorruptFile(f"{name}: the file could not be read (the reader crashed on it)") from None


def display_title(first_paragraph: str, fallback: str) -> str:
    """A title for an untitled text: its first words, cut at a word boundary."""
    text = " ".join(first_paragraph.split())
    if not text:
        return fallback
    if len(text) <= 80:
        return text
    cut = text.rfind(" ", 0, 78)
    return text[: cut if cut > 20 else 78].rstrip(",;:-") + "…"
