"""Format readers: bytes of a txt, md, html, pdf, docx or eml file → a ``Draft`` (paragraph blocks, whether
the format marked each as a heading or list item, and the metadata the format itself carries)."""

from __future__ import annotations

import datetime as dt
import html
import io
import logging
import re
import unicodedata
import zipfile
import zlib

from ..errors import CorruptFile, EmptyDocument, UndecodableText
from ..text import STOPWORDS
from .document import (
    LIST_ITEM,
    Block,
    Draft,
    bulleted,
    fields_blocks,
    join_wrapped,
    looks_like_header,
    mb,
    normalise,
    same_text,
    table_blocks,
)
from .mail import REPLY_PREFIX, drop_quoted_headers, mail_header, sender
from .markdown import read_markdown
from .metadata import clean_author, find_date, useful_title
from .pdf import read_pdf

log = logging.getLogger(__name__)


def decode(data: bytes, name: str) -> str:
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
_NARROW = 40
# A chat or log line: "[09:02] anna.k: ...", "2026-11-03 09:02 ben: ...". Each is a message of its
# own; the next one was read as the wrapped rest of the last.
_STAMPED = re.compile(r"\[?\d{1,2}:\d{2}\b|\[?\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}\b")


def _date_line(line: str) -> bool:
    """A line that is a date alone ("14 November 2026", "Tuesday, 3 November 2026"): a title's
    date, never its wrapped rest ("Energy Week — issue 47 14 November 2026" was the title)."""
    return len(line.split()) <= 5 and find_date(line) is not None and not line.rstrip().endswith(".")


def _lines_to_paragraphs(lines: list[str]) -> list[str]:
    """Lines of one blank-line-separated block → paragraphs. A line break is kept when it was meant
    (the next line's first word would have fitted on this line, or the next line is a list item);
    otherwise it is a wrap and the lines are joined."""
    lines = [line for line in lines if line]
    if not lines:
        return []
    width = max(len(line) for line in lines)
    if len(lines) == 1 or width > _WRAP_MAX:
        return lines
    out = [lines[0]]
    prev = lines[0]
    for line in lines[1:]:
        first_word = line.split(" ", 1)[0]
        if (
            len(prev) + 1 + len(first_word) <= width
            or LIST_ITEM.match(line)
            or _STAMPED.match(line)
            # A date alone on its line, unless the line before runs on into it ("held on").
            or _date_line(line)
            and (prev.split() or [""])[-1].lower() not in STOPWORDS
            or _date_line(prev)
            and not line[:1].islower()
            # Nobody hard-wraps prose this narrow: short lines are lines (a newsletter's contents,
            # "Offshore wind auction results" over "Hydrogen hub delayed", were run together).
            or width < _NARROW
            and not line[:1].islower()
        ):
            out.append(line)
        else:
            out[-1] = join_wrapped(out[-1], line)
        prev = line
    return out


def _plain_blocks(text: str) -> list[Block]:
    text = normalise(text)
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text):
        for paragraph in _lines_to_paragraphs(chunk.split("\n")):
            blocks.append(Block(paragraph))
    return blocks


# ---------------------------------------------------------------------------------------------- readers


def read_plain(text: str, *, given_title: str | None = None) -> Draft:
    fields, body = mail_header(normalise(text))
    draft = Draft(_plain_blocks(drop_quoted_headers(body) if fields else text))
    if fields:
        # An e-mail saved or pasted as text: its subject is its title, its sender its author, the
        # day it was sent its date; the header lines were its first "paragraph", and the title
        # ("From: Sofia Marchetti <sofia@...> Sent: Tuesday ...").
        draft.title = REPLY_PREFIX.sub("", fields["subject"]).strip() or None
        draft.title_in_body = False
        draft.author = clean_author(sender(fields["from"])) or None
        if dated := find_date(fields.get("sent") or fields.get("date") or ""):
            draft.published, draft.precision = dated
    # A caller-given title, even an empty one, means the text is all body: no title line is looked for.
    if given_title is not None:
        draft.title = normalise(given_title).replace("\n", " ")
    return draft


def read_html(data: bytes, name: str) -> Draft:
    import trafilatura  # lazy: ~0.2 s to import, and only HTML needs it
    from trafilatura.settings import Document

    # An FAQ's questions in <details><summary> are dropped by trafilatura, and its answers were
    # left alone ("Yes, if it is enrolled in Intune."): each is read as a paragraph over its answer.
    for tag, read_as in _FAQ_TAGS:
        data = tag.sub(read_as, data)
    try:
        doc = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            favor_recall=True,
            # Dates from what the page states (its meta tags, JSON-LD, <time>, a "Published ..."
            # line), not htmldate's last-resort guesses: a page with only "© 2026" in its footer
            # was dated 1 January 2026, to the day, and counted as that day's news.
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as e:  # lxml and trafilatura raise many types on malformed input
        log.info("trafilatura failed on %s: %r", name, e)
        raise CorruptFile(f"{name}: could not read this web page") from e
    # bare_extraction returns a dict only when asked to (as_dict=True); narrow to its Document
    if not isinstance(doc, Document) or doc.body is None:
        raise EmptyDocument(f"{name}: no article text found on this page")
    blocks = []
    for element in doc.body:
        blocks.extend(_html_element_blocks(element))
    title = normalise(doc.title or "").replace("\n", " ") or None
    draft = Draft(
        blocks,
        title=title,
        source=doc.sitename or (title and _site_in_title(data, title)),
        author=clean_author(doc.author),
    )
    if doc.date:
        found = find_date(doc.date)
        if found:
            draft.published, draft.precision = found
    return draft


_FAQ_TAGS = (
    (re.compile(rb"<details\b[^>]*>", re.I), b"<section>"),
    (re.compile(rb"</details\s*>", re.I), b"</section>"),
    (re.compile(rb"<summary\b[^>]*>", re.I), b"<p>"),
    (re.compile(rb"</summary\s*>", re.I), b"</p>"),
)
_PAGE_TITLE = re.compile(rb"<title[^>]*>(.{1,300}?)</title>", re.I | re.S)
_TITLE_SITE = (
    re.compile(r"^(?P<head>.+)\s(?:\||[-–—])\s(?P<site>[^|–—]+?)$"),  # the last separator: a headline may hold one
    re.compile(r"^(?P<site>[^|–—]+?)\s(?:\||[-–—])\s(?P<head>.+)$"),  # "Harbour City Library – FAQ"
)


def _site_in_title(data: bytes, title: str) -> str | None:
    """The site a page's <title> names after its headline ("Helvia posts record profit - Market
    Wire", "… | The Harbour Gazette") or before it ("Harbour City Library – Frequently asked
    questions"), for a page that states its site nowhere else."""
    found = _PAGE_TITLE.search(data[:65536])
    if not found:
        return None
    page_title = " ".join(html.unescape(found.group(1).decode("utf-8", "replace")).split())
    for pattern in _TITLE_SITE:
        parts = pattern.match(page_title)
        if parts and same_text(parts["head"], title) and len(parts["site"].split()) <= 5:
            return parts["site"]
    return None


def _html_element_blocks(element) -> list[Block]:
    # trafilatura's own XML: <p>, <head>, <list><item>, <table><row><cell>, <quote> ...
    def text_of(node) -> str:
        # <lb/> is the page's <br>: without a space the words on either side run together
        # ("By Maria Lindqvist<br>December 1" read "LindqvistDecember 1").
        for br in node.iter("lb"):
            br.tail = " " + (br.tail or "")
        return " ".join(normalise("".join(node.itertext())).split())

    if element.tag == "list":
        items = [t for t in (text_of(item) for item in element.iter("item")) if t]
        if element.get("rend") == "ol":  # numbered, as the page shows it ("2. Press the power button")
            return [Block(bulleted(f"{n}. {t}"), list_item=True) for n, t in enumerate(items, 1)]
        return [Block(bulleted(t), list_item=True) for t in items]
    if element.tag == "table":
        rows = list(element.iter("row"))
        cells = [[text_of(cell) for cell in row.iter("cell")] for row in rows]
        roles = [cell.get("role") == "head" for cell in rows[0].iter("cell")] if rows else []
        if roles == [True, False] and all(len(row) == 2 for row in cells):
            # Its rows are headed, not its columns: an infobox, a product's specifications
            # ("<th>Population</th><td>11,450</td>"), read as "Population: 11,450." It was read as
            # a header row over the rest ("Country: County; Norway: Finnmark.").
            return fields_blocks(cells)
        return table_blocks(cells, header=all(roles) and bool(roles) or bool(cells) and looks_like_header(cells[0]))
    text = text_of(element)
    return [Block(text)] if text else []


# Limits for zip-based formats (.docx). A long real report is a few MB of XML and a docx with many
# images a few hundred parts; a 3 MB zip bomb declares gigabytes (deflate reaches ~1000:1), and
# python-docx would inflate every part into memory.
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024
MAX_ZIP_PARTS = 1000
_MAX_RATIO = 200  # per part over _RATIO_FLOOR: XML deflates 5-20:1, a bomb far more
_RATIO_FLOOR = 1024 * 1024
_UNZIP_CHUNK = 64 * 1024


def vetted_zip(data: bytes, name: str, *, label: str = "Word file") -> bytes:
    """The archive's parts, checked and copied into an uncompressed zip that the format library
    then reads without inflating anything.

    The central directory is checked first (part count, declared total size, per-part ratio), so a
    bomb is refused before a byte is inflated. Each part is then inflated in small chunks against its
    declared size and the total limit: a part whose header lies is refused at the limit, not after
    gigabytes (``ZipFile.read`` inflates a whole part in one call)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = [info for info in archive.infolist() if not info.is_dir()]
            if len(parts) > MAX_ZIP_PARTS:
                raise CorruptFile(f"{name}: the {label} has {len(parts)} parts, over the limit of {MAX_ZIP_PARTS}")
            declared = sum(info.file_size for info in parts)
            if declared > MAX_UNZIPPED_BYTES:
                raise CorruptFile(
                    f"{name}: the {label} would expand to {mb(declared)}, over the {mb(MAX_UNZIPPED_BYTES)} limit"
                )
            if any(
                info.file_size > _RATIO_FLOOR and info.file_size > _MAX_RATIO * max(1, info.compress_size)
                for info in parts
            ):
                raise CorruptFile(f"{name}: the {label} is compressed suspiciously much (a zip bomb?)")
            out = io.BytesIO()
            total = 0
            seen: set[str] = set()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as copy:
                for info in parts:
                    if info.filename in seen:
                        continue
                    seen.add(info.filename)
                    body = bytearray()
                    with archive.open(info) as part:
                        while chunk := part.read(_UNZIP_CHUNK):
                            body += chunk
                            total += len(chunk)
                            if len(body) > info.file_size or total > MAX_UNZIPPED_BYTES:
                                raise CorruptFile(f"{name}: the {label} expands beyond what it declares (a zip bomb?)")
                    copy.writestr(info.filename, bytes(body))
            return out.getvalue()
    except CorruptFile:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        NotImplementedError,
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
    ) as e:  # RuntimeError: an encrypted part; NotImplementedError: unknown method
        log.info("unzipping %s failed: %r", name, e)
        raise CorruptFile(f"{name}: the {label} is damaged or not a .docx file") from e


def read_docx(data: bytes, name: str) -> Draft:
    # lazy: ~0.1 s to import, and only Word files need it
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    data = vetted_zip(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        log.info("python-docx failed on %s: %r", name, e)
        raise CorruptFile(f"{name}: the Word file is damaged or not a .docx file") from e
    except Exception as e:  # lxml raises its own XMLSyntaxError for broken parts
        if type(e).__module__.startswith("lxml"):
            raise CorruptFile(f"{name}: the Word file is damaged") from e
        raise
    blocks: list[Block] = []
    numbered = 0
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells = [" ".join(normalise(c.text).split()) for c in row.cells]
                # merged cells repeat their text across the row
                rows.append([c if i == 0 or c != cells[i - 1] else "" for i, c in enumerate(cells)])
            # Word marks no header row: a first row that reads as column names is one.
            blocks.extend(table_blocks(rows, header=bool(rows) and looks_like_header(rows[0])))
            continue
        text = " ".join(normalise(item.text).split())  # manual line breaks inside a paragraph → spaces
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        listed = style.startswith("List")
        # "List Number" items are numbered as Word shows them, counting on from the item before.
        numbered = numbered + 1 if style.startswith("List Number") else 0
        blocks.append(
            Block(
                bulleted(f"{numbered}. {text}" if numbered else text) if listed else text,
                heading=style.startswith("Heading") or style == "Title",
                list_item=listed,
            )
        )
    props = document.core_properties
    draft = Draft(blocks, title=useful_title(props.title), author=clean_author(props.author))
    # A first paragraph styled as a title or heading is the title the reader sees.
    if blocks and blocks[0].heading and (draft.title is None or same_text(blocks[0].text, draft.title)):
        draft.title = blocks.pop(0).text
        draft.title_in_body = False
    if props.created is not None and props.created.replace(tzinfo=None) != _PYTHON_DOCX_TEMPLATE_CREATED:
        draft.published, draft.weak_date = props.created.date(), True
    return draft


# python-docx's blank template carries this creation time, and every file it writes keeps it unless
# the program sets another: it says when the template was made, not the report (as its author,
# "python-docx", names no one: ``metadata._GENERATOR_NAMES``).
_PYTHON_DOCX_TEMPLATE_CREATED = dt.datetime(2013, 12, 23, 23, 15)


def read_eml(data: bytes, name: str) -> Draft:
    """An e-mail file as a mail program shows it: its sender, date and subject over its body (the
    plain part, else the HTML one as text), read as a pasted e-mail is (``read_plain``)."""
    import email
    from email import policy

    _reject_binary(data.decode("ascii", errors="ignore"), name)  # the bytes over 127 are 8-bit text or none
    message = email.message_from_bytes(data, policy=policy.default)
    part = message.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    if part is not None and part.get_content_subtype() == "html":
        body = "\n\n".join(block.text for block in read_html(body.encode(), name).blocks)
    fields = {key: " ".join(str(message[key] or "").split()) for key in ("From", "Date", "Subject")}
    if not (fields["From"] and fields["Subject"]):
        return read_plain(body)
    return read_plain("\n".join(f"{key}: {value}" for key, value in fields.items()) + "\n\n" + body)


def read(data: bytes, suffix: str, name: str, *, max_pages: int | None = None) -> Draft:
    """The reader for ``suffix`` (one of ``SUPPORTED_SUFFIXES``)."""
    if suffix == ".txt":
        return read_plain(decode(data, name))
    if suffix in (".md", ".markdown"):
        return read_markdown(decode(data, name))
    if suffix in (".html", ".htm"):
        return read_html(data, name)
    if suffix == ".pdf":
        return read_pdf(data, name, max_pages=max_pages)
    if suffix == ".eml":
        return read_eml(data, name)
    return read_docx(data, name)
