"""Documents made ready to index: parsed text becomes a ``NewDocument`` and its passages, with
names cleaned and an untitled text given a display title. Pure and CPU-bound: the service runs it
in worker threads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from . import chunking, ingest
from .errors import EmptyDocument, KnowledgeError
from .models import NewDocument


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


def display_title(first_paragraph: str, fallback: str) -> str:
    """A title for an untitled text: its first words, cut at a word boundary."""
    text = " ".join(first_paragraph.split())
    if not text:
        return fallback
    if len(text) <= 80:
        return text
    cut = text.rfind(" ", 0, 78)
    return text[: cut if cut > 20 else 78].rstrip(",;:-") + "…"
