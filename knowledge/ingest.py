"""Turning files, pasted text and web pages into clean documents: title, publisher, date, author and
paragraphs, with boilerplate (reading-time lines, promotions, inserted related-story headlines,
"originally appeared" and copyright lines) removed by general rules.

The pipeline is the same for every format: a format reader (txt, md, html, pdf, docx) turns bytes into
``_Block``s (a paragraph of text, and whether the format marked it as a heading) plus whatever metadata
the format carries; ``_clean`` then applies the same shape rules to every format, so a teaser inserted
in a PDF is dropped just like one in a web page. The paragraph text returned here is what gets stored
and quoted verbatim later, so whitespace is normalised once, here, and never again."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from .errors import CorruptFile, EmptyDocument, FetchError, FileTooLarge, UndecodableText, UnsupportedFileType

log = logging.getLogger(__name__)

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


# ---------------------------------------------------------------------------------------------- public


def check_file(filename: str, size: int, max_bytes: int | None) -> None:
    """Refuse an unsupported type or an oversized file, before its bytes are read or parsed."""
    name = _display_name(filename)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileType(f"{name}: unsupported file type {suffix or '(none)'}; "
                                  f"use {', '.join(SUPPORTED_SUFFIXES)}")
    if max_bytes is not None and size > max_bytes:
        raise FileTooLarge(f"{name}: file is {_mb(size)}, over the {_mb(max_bytes)} limit")


def parse_bytes(data: bytes, filename: str, *, max_bytes: int | None = None) -> ParsedDocument:
    """Parse a file's bytes by its suffix. Raises a KnowledgeError subclass naming the file."""
    check_file(filename, len(data), max_bytes)
    name = _display_name(filename)
    suffix = PurePosixPath(name).suffix.lower()
    if not data.strip():
        raise EmptyDocument(f"{name}: the file is empty")

    if suffix == ".txt":
        draft = _read_plain(_decode(data, name))
    elif suffix in (".md", ".markdown"):
        draft = _read_markdown(_decode(data, name))
    elif suffix in (".html", ".htm"):
        draft = _read_html(data, name)
    elif suffix == ".pdf":
        draft = _read_pdf(data, name)
    else:
        draft = _read_docx(data, name)
    return _finish(draft, name=name, fallback_title=_title_from_filename(name))


def parse_text(text: str, *, title: str | None = None, name: str = "pasted text") -> ParsedDocument:
    """Pasted or plain text: the same cleaning as a .txt file. With ``title`` given (even "") the
    text is all body and no title line is looked for."""
    if not text or not text.strip():
        raise EmptyDocument(f"{name}: the text is empty")
    if "\x00" in text:
        raise UndecodableText(f"{name}: the text contains NUL bytes (binary data?)")
    draft = _read_plain(text, given_title=title)
    return _finish(draft, name=name, fallback_title=None)


def with_metadata(parsed: ParsedDocument, *, source: str | None = None,
                  published: dt.date | None = None) -> ParsedDocument:
    """The same document with caller-given metadata taking precedence."""
    from dataclasses import replace

    return replace(parsed, source=source or parsed.source, published=published or parsed.published,
                   published_precision="day" if published else parsed.published_precision)


# Content types we can parse, mapped to the suffix parse_bytes dispatches on.
_CONTENT_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "application/x-pdf": ".pdf",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
_FETCH_CHUNK = 64 * 1024
_MAX_REDIRECTS = 5


async def fetch_url(url: str, *, max_bytes: int, timeout_s: float) -> tuple[bytes, str]:
    """Download a URL (http/https only) with a size limit; returns (bytes, a file name whose suffix
    tells ``parse_bytes`` the type: .html, .pdf, .txt ...). Raises FetchError with a short reason."""
    import asyncio

    import aiohttp

    shown = _short_url(url)
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{shown}: only http:// and https:// links can be fetched")
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    # Some news sites refuse requests without a browser-like Accept header.
    headers = {"User-Agent": "newsdesk/0.1 (self-hosted news bot)",
               "Accept": "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9,*/*;q=0.5"}
    try:
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
            async with session.get(url.strip(), allow_redirects=True, max_redirects=_MAX_REDIRECTS) as resp:
                if resp.status >= 400:
                    raise FetchError(f"{shown}: the server answered {resp.status} {resp.reason or ''}".rstrip())
                final_path = resp.url.path
                suffix = _suffix_for(resp.content_type, final_path)
                if suffix is None:
                    raise UnsupportedFileType(f"{shown}: unsupported content type {resp.content_type}; "
                                              "links to web pages, PDF, Word or text files work")
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise FileTooLarge(f"{shown}: the page is {_mb(resp.content_length)}, "
                                       f"over the {_mb(max_bytes)} limit")
                body = bytearray()
                # Enforced while streaming: Content-Length may be missing or wrong.
                async for chunk in resp.content.iter_chunked(_FETCH_CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise FileTooLarge(f"{shown}: the page is over the {_mb(max_bytes)} limit")
                data = _as_utf8(bytes(body), resp.charset, suffix)
    except (FetchError, UnsupportedFileType, FileTooLarge):
        raise
    except (asyncio.TimeoutError, TimeoutError) as e:
        raise FetchError(f"{shown}: no answer within {timeout_s:g} s") from e
    except aiohttp.TooManyRedirects as e:
        raise FetchError(f"{shown}: too many redirects") from e
    except aiohttp.InvalidURL as e:
        raise FetchError(f"{shown}: not a valid link") from e
    except aiohttp.ClientConnectorError as e:
        raise FetchError(f"{shown}: could not connect to {parts.hostname}") from e
    except aiohttp.ClientError as e:
        log.info("fetching %s failed: %r", url, e)
        raise FetchError(f"{shown}: the download failed ({type(e).__name__})") from e
    return data, _filename_for(parts.hostname, final_path, suffix)


# ---------------------------------------------------------------------------------------------- model


@dataclass
class _Block:
    text: str
    heading: bool = False    # the format marked it as a heading: never taken for a teaser
    list_item: bool = False  # an item of a list the format marked as one: short and unpunctuated by nature


@dataclass
class _Draft:
    """What a format reader found, before the shared cleaning."""
    blocks: list[_Block]
    title: str | None = None          # from the format's metadata (front matter, <title>, core props)
    title_in_body: bool = True        # the first block may be the title line itself
    source: str | None = None
    published: dt.date | None = None
    precision: str = "day"
    author: str | None = None
    weak_date: bool = False           # a file-creation date: a dateline in the text is better


# ---------------------------------------------------------------------------------------------- text


# Invisible characters that only get in the way of matching and quoting. Joiners (U+200C/D) stay:
# scripts such as Persian and emoji sequences need them.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"), None)
_SPACE = re.compile(r"[^\S\n]+")  # any whitespace but a newline (tabs, NBSP, thin and ideographic spaces)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _normalise(text: str) -> str:
    """Line endings to \\n, exotic spaces to one plain space, invisible and control characters gone,
    NFC composition; the characters themselves (curly quotes, dashes, accents) are kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = text.replace("\f", "\n").replace("\v", "\n")  # page and line feeds break lines, not words
    text = text.replace("\u00ad\n", "")  # a soft hyphen at a line end: one word across two lines
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE))
    text = _CONTROL.sub("", text)
    return "\n".join(_SPACE.sub(" ", line).strip() for line in text.split("\n"))


def _decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 when a BOM says so, else strict cp1252; binary is refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "cp1252"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        _reject_binary(text, name)
        return text
    raise UndecodableText(f"{name}: could not read the text (not UTF-8, UTF-16 or Windows-1252)")


def _reject_binary(text: str, name: str) -> None:
    # Real text has no NULs and at most a stray form feed; binary data decoded as cp1252 is ~12% controls.
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f\v")
    if "\x00" in text or controls > max(2, len(text) // 100):
        raise UndecodableText(f"{name}: this looks like binary data, not text")


_WRAP_MAX = 200  # nobody hard-wraps wider than this: longer lines are paragraphs of their own


def _lines_to_paragraphs(lines: list[str]) -> list[str]:
    """Lines of one blank-line-separated block → paragraphs. A line break is kept when it was meant
    (the next line's first word would have fitted on this line, or the next line is a list item);
    otherwise it is a wrap and the lines are joined."""
    lines = [l for l in lines if l]
    if not lines:
        return []
    width = max(len(l) for l in lines)
    if len(lines) == 1 or width > _WRAP_MAX:
        return lines
    out = [lines[0]]
    prev = lines[0]
    for line in lines[1:]:
        first_word = line.split(" ", 1)[0]
        if len(prev) + 1 + len(first_word) <= width or _LIST_ITEM.match(line):
            out.append(line)
        else:
            out[-1] = _join_wrapped(out[-1], line)
        prev = line
    return out


def _join_wrapped(text: str, line: str) -> str:
    # A word broken at a hyphen keeps its hyphen ("well-" + "known"): dropping it would invent
    # "wellknown" as often as it repairs "inter-national".
    if re.search(r"[^\W\d_]-$", text) and line[:1].islower():
        return text + line
    return text + " " + line


_LIST_ITEM = re.compile(r"^(?:[-*•–]|\d{1,3}[.)]|[a-z][.)])\s")


def _plain_blocks(text: str) -> list[_Block]:
    text = _normalise(text)
    blocks: list[_Block] = []
    for chunk in re.split(r"\n\s*\n", text):
        for paragraph in _lines_to_paragraphs(chunk.split("\n")):
            blocks.append(_Block(paragraph))
    return blocks


# ---------------------------------------------------------------------------------------------- readers


def _read_plain(text: str, *, given_title: str | None = None) -> _Draft:
    draft = _Draft(_plain_blocks(text))
    # A caller-given title, even an empty one, means the text is all body: no title line is looked for.
    if given_title is not None:
        draft.title = _normalise(given_title).replace("\n", " ")
    return draft


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """A leading ``---`` block of ``key: value`` lines (the simple YAML subset people write by hand)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta: dict[str, str] = {}
    for line in match.group(1).split("\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "\t", "#")):
            meta[key.strip().lower()] = value.strip().strip("'\"").strip()
    return meta, text[match.end():]


def _read_markdown(text: str) -> _Draft:
    from markdown_it import MarkdownIt

    text = _normalise(text)
    meta, body = _front_matter(text)
    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    blocks: list[_Block] = []
    row: list[str] | None = None
    heading = False
    lists = 0
    for token in tokens:
        if token.type == "heading_open":
            heading = True
        elif token.type == "heading_close":
            heading = False
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            lists += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists -= 1
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            if any(row):
                blocks.append(_Block(" | ".join(row)))
            row = None
        elif token.type == "inline":
            content = _inline_text(token)
            if row is not None:
                row.append(content)
            elif content:
                blocks.append(_Block(content, heading=heading, list_item=lists > 0))
        elif token.type in ("fence", "code_block") and token.content.strip():
            blocks.append(_Block(_normalise(token.content).strip()))
    draft = _Draft(blocks, source=meta.get("source") or meta.get("publisher") or meta.get("site") or None,
                   author=meta.get("author") or None)
    if meta.get("title"):
        draft.title = meta["title"]
    elif blocks and blocks[0].heading:
        draft.title = blocks.pop(0).text
        draft.title_in_body = False
    if meta.get("date"):
        found = _find_date(meta["date"])
        if found:
            draft.published, draft.precision = found
    return draft


def _inline_text(token) -> str:
    """The reader-visible text of a markdown inline token: link text kept, markup and images dropped."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content if child.type != "html_inline" else "")
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return re.sub(r" {2,}", " ", "".join(parts)).strip()


def _read_html(data: bytes, name: str) -> _Draft:
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(data, with_metadata=True, include_comments=False,
                                          include_tables=True, include_images=False, favor_recall=True)
    except Exception as e:  # lxml and trafilatura raise many types on malformed input
        log.info("trafilatura failed on %s: %r", name, e)
        raise CorruptFile(f"{name}: could not read this web page") from e
    if doc is None or doc.body is None:
        raise EmptyDocument(f"{name}: no article text found on this page")
    blocks = []
    for element in doc.body:
        blocks.extend(_html_element_blocks(element))
    draft = _Draft(blocks, title=_normalise(doc.title or "").replace("\n", " ") or None,
                   source=doc.sitename or None, author=_clean_author(doc.author))
    if doc.date:
        found = _find_date(doc.date)
        if found:
            draft.published, draft.precision = found
    return draft


def _html_element_blocks(element) -> list[_Block]:
    # trafilatura's own XML: <p>, <head>, <list><item>, <table><row><cell>, <quote> ...
    def text_of(node) -> str:
        return " ".join(_normalise("".join(node.itertext())).split())

    if element.tag == "list":
        return [_Block(t, list_item=True) for t in (text_of(item) for item in element.iter("item")) if t]
    if element.tag == "table":
        rows = (" | ".join(text_of(cell) for cell in row.iter("cell")) for row in element.iter("row"))
        return [_Block(r) for r in rows if r.strip(" |")]
    text = text_of(element)
    return [_Block(text)] if text else []


def _read_pdf(data: bytes, name: str) -> _Draft:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        # Many PDFs are encrypted with an empty password only to set permissions: those open fine.
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorruptFile(f"{name}: the PDF is password-protected")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except CorruptFile:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as e:
        log.info("pypdf failed on %s: %r", name, e)
        raise CorruptFile(f"{name}: the PDF is damaged or not a PDF") from e
    if not any(p.strip() for p in pages):
        raise EmptyDocument(f"{name}: the PDF has no text layer (it may be a scanned image); "
                            "run it through OCR first")
    lines_per_page = [[l for l in _normalise(p).split("\n")] for p in pages]
    lines_per_page = _drop_running_lines(lines_per_page)
    # One line break between pages: a paragraph running over a page break is one paragraph.
    text = "\n".join("\n".join(lines) for lines in lines_per_page)
    draft = _Draft(_pdf_blocks(text))
    if info is not None:
        try:
            draft.title = _useful_title(info.title)
            draft.author = _clean_author(info.author)
            created = info.creation_date
        except (PyPdfError, ValueError, TypeError) as e:  # malformed metadata is no reason to fail
            log.info("unreadable PDF metadata in %s: %r", name, e)
            created = None
        if created is not None:
            draft.published, draft.weak_date = created.date(), True
    return draft


_PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-–—]?\s*\d{1,4}\s*(?:(?:of|/)\s*\d{1,4})?\s*[-–—]?$", re.I)


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Page numbers and running headers/footers (the same line at the top or bottom of most pages)."""
    edges: Counter[str] = Counter()
    for lines in pages:
        content = [l for l in lines if l]
        edges.update({re.sub(r"\d+", "#", l) for l in content[:2] + content[-2:]})
    repeated = {l for l, n in edges.items() if len(pages) >= 2 and n >= max(2, len(pages) // 2 + 1)}
    out = []
    for lines in pages:
        out.append([l for l in lines if not _PAGE_NUMBER.match(l) and re.sub(r"\d+", "#", l) not in repeated])
    return out


def _pdf_blocks(text: str) -> list[_Block]:
    """PDF text comes as visual lines, usually without blank lines between paragraphs: a break is a
    paragraph end when the line ends a sentence well short of the column width (proportional fonts
    make character counts vary, hence the margins), or when the line is very short (a heading)."""
    blocks: list[_Block] = []
    for chunk in re.split(r"\n\s*\n", text):
        lines = [l for l in chunk.split("\n") if l]
        if not lines:
            continue
        width = sorted(len(l) for l in lines)[int((len(lines) - 1) * 0.9)]
        current, prev = lines[0], lines[0]
        for line in lines[1:]:
            ends_sentence = bool(_SENTENCE_END.search(prev))
            if (ends_sentence and len(prev) < 0.8 * width) or len(prev) < 0.5 * width or _LIST_ITEM.match(line):
                blocks.append(_Block(current))
                current = line
            else:
                current = _join_wrapped(current, line)
            prev = line
        blocks.append(_Block(current))
    return blocks


def _read_docx(data: bytes, name: str) -> _Draft:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        log.info("python-docx failed on %s: %r", name, e)
        raise CorruptFile(f"{name}: the Word file is damaged or not a .docx file") from e
    except Exception as e:  # lxml raises its own XMLSyntaxError for broken parts
        if type(e).__module__.startswith("lxml"):
            raise CorruptFile(f"{name}: the Word file is damaged") from e
        raise
    blocks: list[_Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = [" ".join(_normalise(c.text).split()) for c in row.cells]
                # merged cells repeat their text across the row
                cells = [c for i, c in enumerate(cells) if c and (i == 0 or c != cells[i - 1])]
                if cells:
                    blocks.append(_Block(" | ".join(cells)))
            continue
        text = " ".join(_normalise(item.text).split())  # manual line breaks inside a paragraph → spaces
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        blocks.append(_Block(text, heading=style.startswith("Heading") or style == "Title",
                             list_item=style.startswith("List")))
    props = document.core_properties
    draft = _Draft(blocks, title=_useful_title(props.title), author=_clean_author(props.author))
    # A first paragraph styled as a title or heading is the title the reader sees.
    if blocks and blocks[0].heading and (draft.title is None or _same(blocks[0].text, draft.title)):
        draft.title = blocks.pop(0).text
        draft.title_in_body = False
    if props.created is not None:
        draft.published, draft.weak_date = props.created.date(), True
    return draft


# Titles and authors that document generators write on their own: not the article's.
_GENERATOR_NAMES = re.compile(r"^(?:untitled.*|word document|document\d*|microsoft word - .*|python-docx|"
                              r"administrator|user|author|owner|unknown|microsoft office user|.*\.(?:docx?|pdf))$",
                              re.I)


def _useful_title(title: str | None) -> str | None:
    if not title:
        return None
    title = " ".join(_normalise(str(title)).split())
    return None if not title or _GENERATOR_NAMES.match(title) else title


def _clean_author(author: str | None) -> str | None:
    if not author:
        return None
    author = " ".join(_normalise(str(author)).split())
    author = re.sub(r"^by\s+", "", author, flags=re.I)
    return None if not author or _GENERATOR_NAMES.match(author) else author


# ---------------------------------------------------------------------------------------------- dates

_MONTHS = {m: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"),
     ("nov", "november"), ("dec", "december")], start=1) for m in names}
_MONTH = r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" \
         r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_DATE_PATTERNS = [
    re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<mnum>[01]?\d)-(?P<day>[0-3]?\d)(?![\d])"),          # 2022-01-11
    re.compile(rf"\b{_MONTH}\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d\d)\b", re.I),
    re.compile(rf"\b(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(?P<year>(?:19|20)\d\d)\b", re.I),
    re.compile(r"\b(?P<year>(?:19|20)\d\d)/(?P<mnum>[01]?\d)/(?P<day>[0-3]?\d)\b"),                  # 2022/01/11
]
_MONTH_YEAR = [
    re.compile(r"^\s*(?P<year>(?:19|20)\d\d)-(?P<mnum>[01]?\d)\s*$"),
    re.compile(rf"^\s*{_MONTH},?\s+(?P<year>(?:19|20)\d\d)\s*$", re.I),
]
_YEAR_ONLY = re.compile(r"^\s*(?P<year>(?:19|20)\d\d)\s*$")


def _find_date(text: str) -> tuple[dt.date, str] | None:
    """The first full date in ``text`` (ISO, "January 11, 2022", "11 January 2022", "Jan. 11, 2022"),
    or a whole string that is only a month or a year; with its precision."""
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            date = _date_from(match, day=True)
            if date:
                return date, "day"
    for pattern in _MONTH_YEAR:
        match = pattern.match(text)
        if match and (date := _date_from(match, day=False)):
            return date, "month"
    match = _YEAR_ONLY.match(text)
    if match:
        return dt.date(int(match["year"]), 1, 1), "year"
    return None


def _date_from(match: re.Match, *, day: bool) -> dt.date | None:
    groups = match.groupdict()
    month = int(groups["mnum"]) if groups.get("mnum") else _MONTHS.get(groups["month"].lower().rstrip("."))
    try:
        return dt.date(int(groups["year"]), month or 0, int(groups["day"]) if day else 1)
    except ValueError:  # 2022-02-30 and the like are not dates
        return None


# ---------------------------------------------------------------------------------------------- rules
#
# Every rule looks at the shape of one paragraph (its length, its ending, its first words, its
# vocabulary), never at a particular publisher's wording, so the same rules work for wire copy,
# newspaper sites and newsletters.

_SENTENCE_END = re.compile(r"[.!?…:;\"”’'»]\)?$")
_READING_TIME = re.compile(
    r"^(?:(?:estimated\s+)?reading\s+time:?\s*)?(?:about\s+)?\d+(?:\s*[-–]\s*\d+)?\s*[-‑]?\s*"
    r"(?:min(?:ute)?s?|m)\.?(?:\s+(?:read|reading|to\s+read|listen))?$", re.I)
_BYLINE = re.compile(r"^(?i:by|words\s+by|written\s+by)\s+(?P<names>[A-Z][\w'’.-]*(?:[ ,]+(?:and\s+|&\s+)?"
                     r"[A-Z][\w'’.-]*){0,8})(?:\s*[,|/–—-]\s*(?P<org>[A-Z][\w&'’. -]{1,40}))?$")
_DATE_WORDS = re.compile(
    r"\b(?:published|updated|last\s+updated|first\s+published|posted|modified|on|at|as\s+of|"
    r"mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"am|pm|a\.m|p\.m|gmt|utc|bst|cet|cest|est|edt|cst|cdt|mst|mdt|pst|pdt|et|pt|hkt|sgt|jst|ist|aest|"
    r"local\s+time|time)\b\.?", re.I)
_TIME = re.compile(r"(?<![\w:])T?\d{1,2}[:.]\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[ap]\.?m\.?)?Z?(?!\w)|"
                   r"[+-]\d{2}:?\d{2}\b", re.I)
# A dateline cut off from its paragraph: "Atlanta CNN —", "LONDON (Reuters) -".
_PLACE_LINE = re.compile(r"^(?:[A-Z][\w.'’-]*,?\s+){1,4}\(?(?P<org>[A-Z][A-Za-z&.]*[A-Z])\)?\s*[-–—]{1,2}$")
_SEPARATORS = re.compile(r"\s*[·•|]\s*|\s+[-–—]\s+")

# Lines that only lead readers elsewhere. Imperative ones ("Subscribe", "Sign up") are checked for
# reporting verbs so that "Sign-ups rose, the ministry said." is not taken for one.
_LEAD_IN = re.compile(
    r"^(?:read\s+more\b|read\s+next\b|read\s+also\b|also\s+read\b|more\s*:|related\b(?:\s+(?:coverage|stories|"
    r"articles?|content|reading|news|topics))?\s*(?::|$)|see\s+also\b|"
    r"(?:advertisement|advert|ad|sponsored(?:\s+content)?)\b.{0,40}$|"
    r"(?:the\s+)?(?:story|article)\s+continues\b|continue\s+reading\b|scroll\s+(?:down\s+)?to\s+continue\b|"
    r"sign\s+up\b|subscribe\b|follow\s+(?:us|@)|click\s+here\b|tap\s+here\b|watch\s*:|listen\s*:|"
    r"(?:photo(?:graph)?|image|picture|video|graphic)s?\s*(?:credit|caption|source)?\s*[:,]|share\s+this\b|download\s+(?:our|the)\b)",
    re.I)
_REPORTING = re.compile(r"\b(?:said|says|say|told|according\s+to|reported|announced|added)\b", re.I)
_CREDIT = re.compile(
    r"^\(?\s*(?:additional\s+)?(?:reporting|writing|editing|edited|compiled|research|fact[- ]checking|"
    r"graphics|produced)\s+by\b", re.I)
# Credits are names and places only: "Reporting by the BBC found ..." is a sentence and stays.
_CREDIT_WORDS = frozenset("and in by with from of at additional reporting writing editing edited compiled research "
                          "fact-checking fact checking graphics produced".split())
_CONTRIBUTED = re.compile(r"\bcontributed\s+(?:to\s+)?(?:this|the)\s+(?:report|story|article|coverage)\b\.?\)?$",
                          re.I)
# About this very text ("This article ...", or a note that starts "Originally published ..."), so that
# "The novel was first published in 1851" in a story stays.
_ORIGIN = re.compile(
    r"(?i:\bthis\s+(?:article|story|piece|report|content|post|interview|column|essay)\s+(?:was\s+|is\s+|has\s+been\s+)?"
    r"(?:originally|first)\s+(?:appeared|published|posted|ran)\b|^\(?(?:this\s+\w+\s+)?(?:was\s+)?(?:originally|first)"
    r"\s+(?:appeared|published|posted)\s+(?:in|on|by|at)\b|\brepublished\s+(?:here\s+)?(?:with|by)\s+permission\b)")
# A notice, not a paragraph about copyright law: the mark is followed by a year or a capitalised holder.
_COPYRIGHT_START = re.compile(r"^(?i:copyright|©|\(c\))\s*(?:(?i:©|\(c\))\s*)?(?:(?:19|20)\d\d|[A-Z][^.]{0,60}"
                              r"(?:19|20)\d\d)")
_RIGHTS = re.compile(r"\ball\s+rights\s+reserved\b", re.I)
_NAME = r"[A-Z0-9][\w'’&.-]*(?:\s+(?:[A-Z0-9][\w'’&.-]*|of|and|&|for|the|de|du|la|del))*"
_ORIGIN_NAME = re.compile(r"(?i:(?:originally|first)\s+(?:appeared|published|posted|ran)\s+(?:in|on|by|at)\s+)"
                          rf"(?:the\s+)?(?P<name>{_NAME})")
_COPYRIGHT_NAME = [
    re.compile(r"(?i:copyright|©|\(c\))\s*(?:(?i:©|\(c\))\s*)?(?P<year>(?:19|20)\d\d)(?:\s*[-–]\s*"
               rf"(?P<year2>(?:19|20)\d\d))?[.,]?\s+(?P<name>{_NAME})"),
    re.compile(rf"(?i:copyright|©|\(c\))\s*(?:(?i:©|\(c\))\s*)?(?P<name>{_NAME}?)[.,]?\s+"
               r"(?P<year>(?:19|20)\d\d)\b"),
    re.compile(r"(?i:copyright|©|\(c\))\s*(?:(?i:©|\(c\))\s*)?(?P<year>(?:19|20)\d\d)\b"),
]
_CORPORATE = re.compile(r"(?:[\s,&]+(?:ltd|limited|inc|incorporated|llc|llp|plc|pty|gmbh|ag|sa|s\.a|n\.v|co|"
                        r"corp|corporation|company|group|holdings|publishers|publishing|publications)\.?)+$",
                        re.I)
_AGENCY = re.compile(r"^[^()]{0,60}?\((?P<agency>[A-Z][A-Za-z&.' ]{1,30})\)\s*[-–—]{1,2}\s")

# Promotional vocabulary: each hit is evidence, none alone is proof.
_MARKETING = re.compile(
    r"\bsubscri(?:be|bing|ption)s?\b|\bnewsletters?\b|\bsign(?:ing)?[- ]up\b|\b(?:our|the)\s+app\b|"
    r"\bdownload\b|\bplatform\b|\bcurated\b|\bbrought\s+to\s+you\b|\baward[- ]winning\b|\bget\s+the\s+answers\b|"
    r"\b(?:unlimited|full|exclusive|premium|digital)\s+(?:access|content|coverage|membership)\b|\bfree\s+trial\b|"
    r"\binbox\b|\bexplore\b|\bfollow\s+us\b|\bclick\b|\btap\s+here\b|\bspecial\s+offer\b|\blimited[- ]time\b|"
    r"\bmembership\b|\bsponsored\b|\bpartner\s+content\b|\bsupport\s+(?:our|independent|quality)\s+journalism\b|"
    r"\bpodcasts?\b|\bexplainers?\b|\bdon['’]?t\s+miss\b|\bstay\s+(?:informed|up\s+to\s+date|updated|ahead)\b|"
    r"\blearn\s+more\b|\bfind\s+out\s+more\b|\bdelivered\s+(?:to|straight|right)\b|\bregister\s+(?:now|today|for)\b|"
    r"\bbreaking\s+news\s+alerts?\b|\bdaily\s+(?:briefing|digest)\b|\bvisit\b|\bour\s+(?:new|team|journalists)\b",
    re.I)
_SECOND_PERSON = re.compile(r"\byou(?:r|rs|rself|['’](?:ll|re|ve|d))?\b", re.I)
_PUBLISHER_VOICE = re.compile(r"\b(?:our|we|us)\b", re.I)
_IMPERATIVE = re.compile(r"^(?:get|sign|subscribe|join|download|explore|discover|try|read|listen|watch|follow|"
                         r"register|support|visit|stay|find|learn|click|tap|don['’]?t)\b", re.I)


def _is_prose(text: str) -> bool:
    return bool(_SENTENCE_END.search(text)) and len(text.split()) >= 8 or len(text) > 200


def _promo_score(text: str) -> int:
    """Evidence that a paragraph sells rather than reports: marketing words count double, addressing
    the reader and speaking as "we/our" count once each (capped so a chatty quote can't score alone)."""
    marketing = len(_MARKETING.findall(text))
    if not marketing:
        return 0
    you = min(2, len(_SECOND_PERSON.findall(text)))
    we = min(2, len(_PUBLISHER_VOICE.findall(text)))
    return 2 * marketing + you + we + (1 if _IMPERATIVE.match(text) else 0)


def _is_promotion(text: str) -> bool:
    if text[:1] in "\"“'‘«" or _REPORTING.search(text):
        return False  # a quote or a reported statement: news about marketing, not marketing
    reader_directed = bool(_SECOND_PERSON.search(text) or _IMPERATIVE.match(text))
    return reader_directed and _promo_score(text) >= 5


def _is_teaser(block: _Block) -> bool:
    """An inserted related-story headline: a short standalone line with a headline's shape and no
    sentence ending. Under four words it is more likely a section heading, which is kept."""
    text = block.text
    if block.heading or block.list_item or _SENTENCE_END.search(text) or _LIST_ITEM.match(text) or len(text) > 160:
        return False
    words = text.split()
    return 4 <= len(words) <= 22 and (text[0].isupper() or text[0].isdigit() or text[0] in "\"“‘'")


def _lead_in(text: str) -> bool:
    if not _LEAD_IN.match(text) or len(text) > 400:
        return False
    return not _REPORTING.search(text)


def _is_credit(text: str) -> bool:
    if len(text) > 300:
        return False
    if _CONTRIBUTED.search(text):
        return True
    if not _CREDIT.match(text):
        return False
    words = re.findall(r"[^\s;,()&.]+", text)
    return all(w[0].isupper() or not w[0].isalpha() or w.lower() in _CREDIT_WORDS for w in words)


def _is_copyright(text: str) -> bool:
    return bool(_COPYRIGHT_START.match(text) and len(text) < 400 or _RIGHTS.search(text) and len(text) < 300)


def _is_reading_time(part: str) -> bool:
    return bool(_READING_TIME.match(part.strip(" ·•|-–—")))


def _dateline_date(part: str) -> tuple[dt.date, str] | None:
    """A line that is only a date, maybe with a time, weekday, zone and "Published"/"Updated"."""
    if len(part) > 90:
        return None
    found = _find_date(part)
    if not found:
        return None
    rest = part
    for pattern in _DATE_PATTERNS:
        rest = pattern.sub(" ", rest)
    rest = _DATE_WORDS.sub(" ", _TIME.sub(" ", rest))
    return found if not re.sub(r"[\W_]+", "", rest) else None


@dataclass
class _Header:
    """Metadata found in the lines at the top of an article."""
    author: str | None = None
    org: str | None = None  # "By Jane Doe, CNN": a weak hint at the publisher
    date: tuple[dt.date, str] | None = None
    updated: tuple[dt.date, str] | None = None


def _header_line(text: str, header: _Header) -> bool:
    """Is this top-of-article line only metadata (byline, dateline, reading time, and the like joined by
    · or |)? If so, record what it says in ``header``."""
    if len(text) > 160:
        return False
    parts = [p for p in _SEPARATORS.split(text) if p and p.strip(" ·•|-–—")]
    found = _Header()
    kinds = []
    for part in parts:
        part = part.strip()
        if _is_reading_time(part):
            kinds.append("time")
        elif match := _BYLINE.match(part):
            names, org = _byline_names(match["names"])
            found.author = found.author or names
            found.org = found.org or match["org"] or org
            kinds.append("byline")
        elif match := _PLACE_LINE.match(part):
            found.org = found.org or match["org"]
            kinds.append("place")
        elif date := _dateline_date(part):
            if re.match(r"^\s*(?:last\s+)?updated\b", part, re.I):
                found.updated = found.updated or date
            else:
                found.date = found.date or date
            kinds.append("date")
        elif len(part.split()) <= 4 and not _SENTENCE_END.search(part) and part[:1].isupper():
            kinds.append("name")  # "Reuters", "World News": only accepted next to real metadata
        else:
            return False
    if not kinds or all(k == "name" for k in kinds):
        return False
    header.author = header.author or found.author
    header.org = header.org or (found.org.strip() if found.org else None)
    header.date = header.date or found.date
    header.updated = header.updated or found.updated
    return True


def _byline_names(names: str) -> tuple[str, str | None]:
    """"Kevin Liptak and Maegan Vazquez, CNN" → the people, and the one-word organisation after them
    (a person's name has two words or more)."""
    names = " ".join(names.split()).strip(" ,.")
    head, sep, last = names.rpartition(",")
    if sep and head and len(last.split()) == 1:
        return head.strip(" ,"), last.strip()
    return names, None


def _publisher(text: str) -> str | None:
    """"originally appeared in the X (XX), ..." → X."""
    match = _ORIGIN_NAME.search(text)
    return _tidy_name(match["name"]) if match else None


def _copyright(text: str) -> tuple[str | None, int | None]:
    """Holder (without Ltd, Inc, Publishers ...) and year of a copyright notice."""
    for pattern in _COPYRIGHT_NAME:
        match = pattern.search(text)
        if match:
            groups = match.groupdict()
            year = groups.get("year2") or groups.get("year")
            name = _tidy_name(groups["name"]) if groups.get("name") else None
            return name, int(year) if year else None
    return None, None


def _tidy_name(name: str) -> str | None:
    name = re.split(r"\.\s", name + " ", maxsplit=1)[0]  # a sentence end: "Ltd. All rights reserved"
    name = _RIGHTS.split(name)[0]
    name = re.sub(r"(?:\s+(?:of|and|&|for|the|de|du|la|del|all))+$", "", name.strip(" .,;"), flags=re.I)
    stripped = _CORPORATE.sub("", name).strip(" .,;&")
    name = stripped or name
    return name if 2 <= len(name) <= 80 else None


def _same(a: str, b: str) -> bool:
    def key(s: str) -> str:
        return " ".join(re.sub(r"[^\w\s]", "", s.casefold()).split())

    return key(a) == key(b)


def _looks_like_title(text: str) -> bool:
    return len(text) <= 200 and len(text.split()) <= 30 and not text.endswith(".") and "\n" not in text


# ---------------------------------------------------------------------------------------------- cleaning


_HEADER_SPAN = 8  # paragraphs at the top where bylines and datelines live


def _finish(draft: _Draft, *, name: str, fallback_title: str | None) -> ParsedDocument:
    blocks = [b for b in draft.blocks if b.text]
    removed: list[str] = []
    title = draft.title
    header = _Header()

    # The title line: the first block when it has a title's shape (or equals the known title).
    if blocks and draft.title_in_body:
        first = blocks[0].text
        if title and _same(first, title):
            blocks.pop(0)
        elif title is None and _looks_like_title(first) and not _header_line(first, _Header()) \
                and not _is_reading_time(first) and (len(blocks) > 1 or blocks[0].heading):
            title = blocks.pop(0).text

    # The header zone: bylines, datelines and reading times before the first real paragraph.
    kept: list[_Block] = []
    in_header = True
    for i, block in enumerate(blocks):
        text = block.text
        if in_header and (i >= _HEADER_SPAN or (_is_prose(text) and not _is_reading_time(text))):
            in_header = False
        reason = None
        if not any(ch.isalnum() for ch in text):
            reason = "rule"  # "___", "* * *": decoration between sections
        elif in_header and not block.heading and _header_line(text, header):
            reason = "header"
        elif _is_reading_time(text):
            reason = "reading time"
        elif _lead_in(text):
            reason = "lead-in"
        elif _is_credit(text):
            reason = "credit"
        elif _ORIGIN.search(text) and len(text) < 800:
            reason = "origin"
        elif _is_copyright(text):
            reason = "copyright"
        elif _is_promotion(text):
            reason = "promotion"
        elif not in_header and kept and _is_teaser(block):
            reason = "teaser"
        if reason:
            log.debug("%s: dropped %s: %.80r", name, reason, text)
            removed.append(text)
        else:
            kept.append(block)

    paragraphs = [b.text for b in kept]
    if not paragraphs:
        if removed:
            raise EmptyDocument(f"{name}: no text left after removing boilerplate")
        raise EmptyDocument(f"{name}: no readable text found")

    source, published, precision, author = draft.source, draft.published, draft.precision, draft.author
    author = author or header.author or _credit_author(removed)
    # A dateline in the text beats a file's creation date, never a page's own publication metadata.
    text_date = header.date or header.updated or _agency_date(paragraphs[0])
    if text_date and (published is None or draft.weak_date):
        published, precision = text_date
    publisher = next((p for p in map(_publisher, removed) if p), None)
    holder, year = None, None
    for text in removed:
        if re.search(r"(?i:copyright|©|\(c\))", text):
            holder, year = _copyright(text)
            if holder or year:
                break
    source = source or publisher or holder or header.org or _agency(paragraphs[0])
    if published is None and year:
        published, precision = dt.date(year, 1, 1), "year"

    if not title:
        title = fallback_title or _title_from_text(paragraphs[0])
    return ParsedDocument(title=title, paragraphs=paragraphs, source=source, published=published,
                          published_precision=precision, author=author, removed=removed)


def _credit_author(removed: list[str]) -> str | None:
    """"Reporting by Jane Doe in Kyiv; Editing by ..." → Jane Doe (the wire reporter)."""
    for text in removed:
        match = re.match(r"^\(?\s*(?:additional\s+)?(?:reporting|writing)\s+by\s+(?P<names>[^;()]+?)"
                         r"(?:\s+in\s+[A-Z][^;()]*)?\s*(?:[;)]|$)", text, re.I)
        if match and not text.lower().lstrip("( ").startswith("additional"):
            names = match["names"].strip(" .,")
            if names and len(names) <= 80:
                return names
    return None


def _agency(first_paragraph: str) -> str | None:
    """Wire datelines: "KYIV, Jan 11 (Reuters) - ..." → Reuters."""
    match = _AGENCY.match(first_paragraph)
    return match["agency"].strip() if match else None


def _agency_date(first_paragraph: str) -> tuple[dt.date, str] | None:
    """A full date in a dateline: "WASHINGTON, Jan. 11, 2022 (AP) — ..."."""
    head = re.split(r"\s[-–—]{1,2}\s", first_paragraph[:100], maxsplit=1)
    if len(head) < 2:
        return None
    found = _find_date(head[0])
    return found if found and found[1] == "day" else None


def _title_from_filename(name: str) -> str:
    stem = PurePosixPath(name).stem
    return " ".join(re.sub(r"[_]+|(?<=\w)-(?=\w)", " ", stem).split()) or name


def _title_from_text(text: str, words: int = 10) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


# ---------------------------------------------------------------------------------------------- fetching


def _suffix_for(content_type: str, path: str) -> str | None:
    suffix = _CONTENT_TYPES.get((content_type or "").lower())
    if suffix:
        return suffix
    if content_type in ("application/octet-stream", "binary/octet-stream", ""):
        # servers that don't know the type: trust the link's own suffix when we can parse it
        path_suffix = PurePosixPath(unquote(path)).suffix.lower()
        return path_suffix if path_suffix in SUPPORTED_SUFFIXES else None
    return None


def _as_utf8(data: bytes, charset: str | None, suffix: str) -> bytes:
    """Plain text and markdown declared in another charset by the server: recode to UTF-8, since the
    bytes alone can't tell (HTML carries its own declaration and trafilatura reads it)."""
    if suffix not in (".txt", ".md") or not charset or charset.lower().replace("_", "-") in ("utf-8", "utf8"):
        return data
    try:
        return data.decode(charset).encode("utf-8")
    except (LookupError, UnicodeDecodeError):
        return data


def _filename_for(host: str | None, path: str, suffix: str) -> str:
    stem = PurePosixPath(unquote(path)).name
    stem = PurePosixPath(stem).stem if PurePosixPath(stem).suffix.lower() in SUPPORTED_SUFFIXES else stem
    stem = re.sub(r"[^\w.-]+", "-", stem).strip("-.")[:80] or re.sub(r"[^\w.-]+", "-", host or "page")
    return stem + suffix


def _short_url(url: str, limit: int = 100) -> str:
    url = url.strip()
    return url if len(url) <= limit else url[: limit - 1] + "…"


def _display_name(filename: str) -> str:
    """Only the file's own name goes into messages, never the directories above it."""
    return PurePosixPath(filename.replace("\\", "/")).name or filename


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"
