"""Turning files, pasted text and web pages into clean documents: title, publisher, date, author and
paragraphs, with boilerplate (reading-time lines, promotions, inserted related-story headlines,
"originally appeared" and copyright lines) removed by general rules.

The pipeline is the same for every format: a format reader (``readers``: txt, md, html, pdf, docx, eml)
turns bytes into ``Block``s (a paragraph of text, and whether the format marked it as a heading) plus
whatever metadata the format carries; ``clean.finish`` then applies the same shape rules (``clean``)
and metadata finders (``metadata``) to every format, so a teaser inserted in a PDF is dropped just
like one in a web page. ``fetch`` downloads pages for ``/doc add url``. The paragraph text returned
here is what gets stored and quoted verbatim later, so whitespace is normalised once, here, and never
again."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from pathlib import PurePosixPath

from ..clock import utcnow
from ..errors import CorruptFile, EmptyDocument, FileTooLarge, KnowledgeError, UndecodableText, UnsupportedFileType
from .clean import finish
from .document import SUPPORTED_SUFFIXES, ParsedDocument, clean_name, display_name, mb
from .fetch import FeedResponse, fetch_feed, fetch_url, short_url, strip_credentials
from .metadata import title_from_filename
from .readers import read, read_plain

log = logging.getLogger(__name__)

__all__ = [
    "SUPPORTED_SUFFIXES",
    "ParsedDocument",
    "check_file",
    "clean_name",
    "FeedResponse",
    "fetch_feed",
    "fetch_url",
    "short_url",
    "parse_bytes",
    "parse_text",
    "mb",
    "strip_credentials",
    "with_metadata",
]


def check_file(filename: str, size: int, max_bytes: int | None) -> None:
    """Refuse an unsupported type or an oversized file, before its bytes are read or parsed."""
    name = display_name(filename)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileType(
            f"{name}: unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if max_bytes is not None and size > max_bytes:
        raise FileTooLarge(f"{name}: file is {mb(size)}, over the {mb(max_bytes)} limit")


def parse_bytes(
    data: bytes, filename: str, *, max_bytes: int | None = None, max_pages: int | None = None
) -> ParsedDocument:
    """Parse a file's bytes by its suffix (a PDF of more than ``max_pages`` pages is refused before
    its text is read). Raises a KnowledgeError subclass naming the file."""
    check_file(filename, len(data), max_bytes)
    name = display_name(filename)
    if not data.strip():
        raise EmptyDocument(f"{name}: the file is empty")
    suffix = PurePosixPath(name).suffix.lower()
    try:
        draft = read(data, suffix, name, max_pages=max_pages)
    except KnowledgeError:
        raise
    except Exception as e:
        # pypdf, python-docx, lxml and trafilatura raise whatever their code meets on hostile input
        # (NotImplementedError, pypdf's DeprecationError, AttributeError, RecursionError ...): one
        # damaged file is that file's error, never the batch's.
        log.warning("%s: the %s reader failed: %r", name, suffix, e)
        raise CorruptFile(f"{name}: the file is damaged or not a valid {suffix} file") from e
    # A file is indexed the day it is read: a wire dateline's missing year is read against it.
    # Pasted text (and the evaluations' corpora, asked in the past) leave such a date out.
    return finish(draft, name=name, fallback_title=title_from_filename(name), today=utcnow().date())


def parse_text(text: str, *, title: str | None = None, name: str = "pasted text") -> ParsedDocument:
    """Pasted or plain text: the same cleaning as a .txt file. With ``title`` given (even "") the
    text is all body and no title line is looked for."""
    if not text or not text.strip():
        raise EmptyDocument(f"{name}: the text is empty")
    if "\x00" in text:
        raise UndecodableText(f"{name}: the text contains NUL bytes (binary data?)")
    draft = read_plain(text, given_title=title)
    return finish(draft, name=name, fallback_title=None)


def with_metadata(
    parsed: ParsedDocument, *, source: str | None = None, published: dt.date | None = None
) -> ParsedDocument:
    """The same document with caller-given metadata taking precedence."""
    return replace(
        parsed,
        source=source or parsed.source,
        published=published or parsed.published,
        published_precision="day" if published else parsed.published_precision,
    )
