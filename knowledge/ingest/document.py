"""What the stages of ingest pass to each other (``Block``, ``Draft``, ``ParsedDocument``) and the one
text normaliser every reader uses."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..text import LIST_ITEM as LIST_ITEM  # kept where the readers and cleaner import them
from ..text import SENTENCE_END as SENTENCE_END

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".eml")


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    paragraphs: list[str]  # clean paragraphs, in order, none empty
    source: str | None = None  # publisher / site name
    published: dt.date | None = None
    published_precision: str = "day"  # "day", "month" or "year" (a copyright year only)
    author: str | None = None
    removed: list[str] = field(default_factory=list)  # boilerplate dropped, for tests and debugging

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


# ---------------------------------------------------------------------------------------------- model


@dataclass
class Block:
    text: str
    heading: bool = False  # the format marked it as a heading: never taken for a teaser
    list_item: bool = False  # an item of a list the format marked as one: short and unpunctuated by nature


def table_blocks(rows: list[list[str]], *, header: bool) -> list[Block]:
    """A table's rows as blocks. After a ``header`` row, each row is a sentence that names its
    columns ("Owner: Sofia Berg; Task: Hire two data reporters; Due: February 2027."): a row read
    alone says what its cells are, and "When is the expenses tool due?" meets "Due". Without one, a
    row's cells are joined by " | ". A row is short and unpunctuated by nature, as a list item is:
    never taken for a related-story teaser (they were all dropped as ones)."""
    rows = [cells for cells in ([" ".join(c.split()) for c in row] for row in rows) if any(cells)]
    if header and len(rows) > 1 and all(rows[0]):
        names = rows[0]
        out = []
        for cells in rows[1:]:
            text = "; ".join(f"{name}: {cell}" for name, cell in zip(names, cells, strict=False) if cell)
            text += "" if SENTENCE_END.search(text) else "."
            out.append(Block(text, list_item=True))
        return out
    return [Block(" | ".join(c for c in cells if c), list_item=True) for cells in rows]


def fields_blocks(rows: list[list[str]]) -> list[Block]:
    """A table whose rows are headed (a label and its value each): "Population (2024): 11,450."."""
    out = []
    for label, value in ((" ".join(a.split()), " ".join(b.split())) for a, b in rows):
        if label and value:
            text = f"{label}: {value}"
            out.append(Block(text if SENTENCE_END.search(text) else f"{text}.", list_item=True))
    return out


def looks_like_header(cells: list[str]) -> bool:
    """A first row that names columns (a format that does not mark one: Word): every cell filled,
    short, and no number in it ("Owner", "Due date"), with at least two of them."""
    return len(cells) >= 2 and all(c and len(c.split()) <= 4 and not any(ch.isdigit() for ch in c) for c in cells)


@dataclass
class Draft:
    """What a format reader found, before the shared cleaning."""

    blocks: list[Block]
    title: str | None = None  # from the format's metadata (front matter, <title>, core props)
    title_in_body: bool = True  # the first block may be the title line itself
    source: str | None = None
    published: dt.date | None = None
    precision: str = "day"
    author: str | None = None
    weak_date: bool = False  # a file-creation date: a dateline in the text is better


# ---------------------------------------------------------------------------------------------- text


# Invisible characters that only get in the way of matching and quoting. Joiners (U+200C/D) stay:
# scripts such as Persian and emoji sequences need them.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"), None)
_SPACE = re.compile(r"[^\S\n]+")  # any whitespace but a newline (tabs, NBSP, thin and ideographic spaces)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def normalise(text: str) -> str:
    """Line endings to \\n, exotic spaces to one plain space, invisible and control characters gone,
    NFC composition; the characters themselves (curly quotes, dashes, accents) are kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = text.replace("\f", "\n").replace("\v", "\n")  # page and line feeds break lines, not words
    text = text.replace("\u00ad\n", "")  # a soft hyphen at a line end: one word across two lines
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE))
    text = _CONTROL.sub("", text)
    return "\n".join(_SPACE.sub(" ", line).strip() for line in text.split("\n"))


def same_text(a: str, b: str) -> bool:
    def key(s: str) -> str:
        return " ".join(re.sub(r"[^\w\s]", "", s.casefold()).split())

    return key(a) == key(b)


# Bidirectional controls (embeddings, overrides, isolates, LRM/RLM, the Arabic letter mark) turn
# "txt.exe" into "exe.txt" on screen and can make a title or name read as something else. Body text
# keeps LRM/RLM, which right-to-left prose needs; names and titles don't.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"), None)


def clean_name(text: str) -> str:
    """A title, author, source or file name without bidirectional control characters."""
    return text.translate(_BIDI)


def display_name(filename: str) -> str:
    """Only the file's own name goes into messages, never the directories above it."""
    return clean_name(PurePosixPath(filename.replace("\\", "/")).name or filename)


def mb(n: int) -> str:
    """A size as every limit message states it: "2.5 MB"."""
    return f"{n / (1024 * 1024):.1f} MB"


def join_wrapped(text: str, line: str) -> str:
    # A word broken at a hyphen keeps its hyphen ("well-" + "known"): dropping it would invent
    # "wellknown" as often as it repairs "inter-national".
    # Only the tail is searched: "$" made re.search scan the whole paragraph built so far, which was
    # quadratic (a 10,000-page PDF reflowed into one paragraph took minutes).
    if re.search(r"[^\W\d_]-$", text[-2:]) and line[:1].islower():
        return text + line
    return text + " " + line


def bulleted(text: str) -> str:
    """A list item as a reader sees it, with its bullet ("• Dark mode"), unless the text brings its
    own marker: the format marked it as an item, and the text must say so too. Without it a
    two-word item ("Dark mode") was skipped as a fragment, or read as a heading over the next
    one, and items were told from headings and captions by shape alone."""
    return text if LIST_ITEM.match(text) else f"• {text}"
