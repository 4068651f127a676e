"""PDF: the text layer's visual lines, without page numbers and running headers, read back into
paragraphs, headings and a table's rows."""

from __future__ import annotations

import io
import logging
import re
from collections import Counter

from ..errors import CorruptFile, EmptyDocument, FileTooComplex
from ..text import is_data_row
from .document import LIST_ITEM, SENTENCE_END, Block, Draft, join_wrapped, normalise
from .metadata import clean_author, useful_title

log = logging.getLogger(__name__)


def read_pdf(data: bytes, name: str, *, max_pages: int | None = None) -> Draft:
    # lazy: ~0.15 s to import, and only PDFs need it
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        # Many PDFs are encrypted with an empty password only to set permissions: those open fine.
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorruptFile(f"{name}: the PDF is password-protected")
        count = len(reader.pages)
        if max_pages is not None and count > max_pages:
            raise FileTooComplex(f"{name}: the PDF has {count:,} pages, over the limit of {max_pages:,}")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except (CorruptFile, FileTooComplex):
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as e:
        log.info("pypdf failed on %s: %r", name, e)
        raise CorruptFile(f"{name}: the PDF is damaged or not a PDF") from e
    if not any(p.strip() for p in pages):
        raise EmptyDocument(f"{name}: the PDF has no text layer (it may be a scanned image); run it through OCR first")
    lines_per_page = [[line for line in normalise(p).split("\n")] for p in pages]
    running_title = _running_title(lines_per_page)
    lines_per_page = _drop_running_lines(lines_per_page)
    # One line break between pages: a paragraph running over a page break is one paragraph.
    text = "\n".join("\n".join(lines) for lines in lines_per_page)
    draft = Draft(_pdf_blocks(text))
    # A report's running header names it ("Nordlys Analytics - Annual report 2026" over every
    # page): without a title in its metadata, the PDF was titled by its first section's heading.
    draft.title = running_title
    if info is not None:
        try:
            draft.title = useful_title(info.title) or running_title
            draft.author = clean_author(info.author)
            created = info.creation_date
        except (PyPdfError, ValueError, TypeError) as e:  # malformed metadata is no reason to fail
            log.info("unreadable PDF metadata in %s: %r", name, e)
            created = None
        if created is not None:
            draft.published, draft.weak_date = created.date(), True
    return draft


_PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-–—]?\s*\d{1,4}\s*(?:(?:of|/)\s*\d{1,4})?\s*[-–—]?$", re.I)


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Page numbers and running headers/footers: a line (its digits aside) at the top or bottom of
    most pages, counted only on pages that have other content. A line alone on its page is that
    page's text, not a header over it: a 10,000-page PDF with one line per page ("Entry 1",
    "Entry 2" ...) once lost every line to this and was refused as having no text. And whatever
    the counts say, running lines are kept when dropping them would leave no text at all."""
    edges: Counter[str] = Counter()
    for lines in pages:
        keys = [_running_key(line) for line in lines if line and not _PAGE_NUMBER.match(line)]
        for key in set(keys[:2] + keys[-2:]):
            if any(other != key for other in keys):
                edges[key] += 1
    majority = max(2, len(pages) // 2 + 1)
    repeated = {key for key, n in edges.items() if len(pages) >= 2 and n >= majority}

    def kept(lines: list[str], drop: set[str]) -> list[str]:
        return [line for line in lines if not _PAGE_NUMBER.match(line) and _running_key(line) not in drop]

    out = [kept(lines, repeated) for lines in pages]
    if repeated and not any(line for lines in out for line in lines):
        out = [kept(lines, set()) for lines in pages]
    return out


# "Company confidential - do not distribute" over every page is a marking, not a title.
_BANNER = re.compile(r"\b(?:confidential|draft|internal use|do not (?:distribute|copy|share)|proprietary)\b", re.I)


def _running_title(pages: list[list[str]]) -> str | None:
    """The running header over the first page, when it reads as a title (three words or more, not
    a page number or a marking): the first line of most pages, page 1's included."""
    tops = [next((line.strip() for line in lines if line.strip()), "") for lines in pages if any(lines)]
    if (
        len(tops) < 2
        or not tops[0]
        or _PAGE_NUMBER.match(tops[0])
        or len(tops[0].split()) < 3
        or _BANNER.search(tops[0])
    ):
        return None
    key = _running_key(tops[0])
    same = sum(_running_key(top) == key for top in tops)
    return tops[0] if same >= max(2, len(tops) // 2 + 1) else None


def _running_key(line: str) -> str:
    return re.sub(r"\d+", "#", line)


def _pdf_blocks(text: str) -> list[Block]:
    """PDF text comes as visual lines, usually without blank lines between paragraphs: a break is a
    paragraph end when the line ends a sentence well short of the column width (proportional fonts
    make character counts vary, hence the margins), or when the line is very short (a heading)."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text):
        lines = [line for line in chunk.split("\n") if line]
        if not lines:
            continue
        # The column's width, read off the long lines only: a page of short ones (a table's rows,
        # headings) put it near their length, and a paragraph's last line and the heading under
        # it were joined as one wrapped line.
        longest = max(len(line) for line in lines)
        long = sorted(len(line) for line in lines if len(line) >= 0.6 * longest)
        width = long[min(len(long) - 1, int(len(long) * 0.9))]
        current, prev = lines[0], lines[0]
        for line in lines[1:]:
            ends_sentence = bool(SENTENCE_END.search(prev))
            # After a sentence's end a short line that ends none is a heading ("Market share by
            # country"), not the rest of a paragraph.
            heads = ends_sentence and len(line) < 0.5 * width and not SENTENCE_END.search(line)
            if (
                (ends_sentence and len(prev) < 0.8 * width)
                or len(prev) < 0.5 * width
                or LIST_ITEM.match(line)
                or heads
                or is_data_row(line)
                # Items set off by bars are a line of their own, no wrapped prose: "Equity research |
                # 6 November 2026 | Analyst: Tomas Reinholt" ran into "Rating: Buy | Price target: $86",
                # and neither the date, the analyst nor the rating was read.
                or " | " in prev
                or " | " in line
            ):
                blocks.append(Block(current))
                current = line
            else:
                current = join_wrapped(current, line)
            prev = line
        blocks.append(Block(current))
    return blocks
