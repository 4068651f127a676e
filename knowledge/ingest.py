"""Turning files, pasted text and web pages into clean documents: title, publisher, date, author and
paragraphs, with boilerplate (reading-time lines, promotions, inserted related-story headlines,
"originally appeared" and copyright lines) removed by general rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    paragraphs: list[str]                 # clean paragraphs, in order, none empty
    source: str | None = None             # publisher / site name
    published: dt.date | None = None
    published_precision: str = "day"      # "day", "month" or "year" (a copyright year only)
    author: str | None = None
    removed: list[str] = field(default_factory=list)  # boilerplate dropped, for tests and debugging

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def parse_bytes(data: bytes, filename: str, *, max_bytes: int | None = None) -> ParsedDocument:
    """Parse a file's bytes by its suffix. Raises a KnowledgeError subclass naming the file."""
    raise NotImplementedError


def parse_text(text: str, *, title: str | None = None, name: str = "pasted text") -> ParsedDocument:
    """Pasted or plain text: the same cleaning as a .txt file."""
    raise NotImplementedError


def with_metadata(parsed: ParsedDocument, *, source: str | None = None,
                  published: dt.date | None = None) -> ParsedDocument:
    """The same document with caller-given metadata taking precedence."""
    from dataclasses import replace

    return replace(parsed, source=source or parsed.source, published=published or parsed.published,
                   published_precision="day" if published else parsed.published_precision)


async def fetch_url(url: str, *, max_bytes: int, timeout_s: float) -> tuple[bytes, str]:
    """Download a URL (http/https only) with a size limit; returns (bytes, a file name whose suffix
    tells ``parse_bytes`` the type: .html, .pdf, .txt ...). Raises FetchError with a short reason."""
    raise NotImplementedError
