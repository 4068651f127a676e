"""Hostile files: zip bombs (declared, by ratio, by part count, and a part whose header lies),
malformed PDFs and Word files, parsers that raise anything at all, links out of an indexed folder,
FIFOs and devices, and bidirectional control characters in names. Every bad file is that file's own
error naming it (``CorruptFile`` for a damaged one); the valid files beside it are indexed.

Every binary file is generated here (fpdf2 for PDFs, python-docx and zipfile for Word files)."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from knowledge import ingest, workers
from knowledge.embed import HashingEmbedder
from knowledge.errors import CorruptFile, FileTooComplex, KnowledgeError, UnsupportedFileType
from knowledge.files import expand_paths
from knowledge.service import KnowledgeBase

ARTICLE = (
    "Harbour reopens after the storm\n\n"
    "The harbour reopened on Monday after a week of repairs to the sea wall, the port authority said.\n\n"
    "Ferries to the islands resume on Tuesday, and freight traffic will be back to normal by Friday.\n"
)
OTHER = (
    "Council approves the new library\n\n"
    "The city council approved the new central library on Thursday by a large majority of its members.\n\n"
    "Construction starts in the spring and the library should open its doors two years from now.\n"
)


def _docx(text: str = "The harbour reopened on Monday after a week of repairs to the sea wall.") -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _rezip(
    data: bytes,
    *,
    replace: dict[str, bytes] | None = None,
    drop: tuple[str, ...] = (),
    add: dict[str, bytes] | None = None,
) -> bytes:
    """A copy of a zip with parts replaced, dropped or added (deflated)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename not in drop:
                dst.writestr(info.filename, (replace or {}).get(info.filename, src.read(info)))
        for name, body in (add or {}).items():
            dst.writestr(name, body, compresslevel=9)
    return out.getvalue()


def _pdf(text: str = "The harbour reopened on Monday after a week of repairs to the sea wall.") -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def _peak_mb(fn) -> tuple[float, Exception | None]:
    """Peak traced memory (MB) while ``fn`` runs, and what it raised."""
    tracemalloc.start()
    try:
        fn()
        raised = None
    except Exception as e:
        raised = e
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak / 1e6, raised


# ---------------------------------------------------------------------------------------------- zip bombs


def test_a_docx_bomb_is_refused_from_its_directory_quickly_and_with_little_memory():
    bomb = _rezip(_docx(), add={"word/media/zeros.bin": bytes(200 * 1024 * 1024)})  # 200 MB of zeros
    assert len(bomb) < 300 * 1024
    peak, raised = _peak_mb(lambda: ingest.parse_bytes(bomb, "bomb.docx"))
    assert isinstance(raised, CorruptFile) and "bomb.docx" in str(raised) and "expand" in str(raised)
    assert peak < 10, f"{peak:.0f} MB"


def test_a_declared_multi_gigabyte_part_is_refused_before_inflating():
    """The 4-6 GB of the report, declared in the central directory of a small file."""
    data = bytearray(_rezip(_docx(), add={"word/media/big.bin": bytes(1024 * 1024)}))
    name = b"word/media/big.bin"
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(name))
    struct.pack_into("<I", data, central + 24, 0xFFFFFFF0)  # uncompressed size: ~4 GB
    peak, raised = _peak_mb(lambda: ingest.parse_bytes(bytes(data), "huge.docx"))
    assert isinstance(raised, CorruptFile) and "huge.docx" in str(raised)
    assert peak < 10, f"{peak:.0f} MB"


def test_a_part_compressed_a_thousand_to_one_is_refused():
    bomb = _rezip(_docx(), add={"word/media/zeros.bin": bytes(8 * 1024 * 1024)})  # under the total limit
    with pytest.raises(CorruptFile, match="compressed suspiciously"):
        ingest.parse_bytes(bomb, "ratio.docx")


def test_too_many_parts_are_refused():
    many = _rezip(_docx(), add={f"word/media/p{i}.xml": b"<x/>" for i in range(3000)})
    with pytest.raises(CorruptFile, match="parts"):
        ingest.parse_bytes(many, "parts.docx")


def test_a_part_whose_header_lies_about_its_size_is_never_inflated_whole():
    """document.xml declares 1,000 bytes (with the right checksum for them) but inflates to 100 MB.
    ``ZipFile.read`` (what python-docx calls) would inflate all of it in one call."""
    payload = bytes(100 * 1024 * 1024)
    data = bytearray(_rezip(_docx(), replace={"word/document.xml": payload}))
    name = b"word/document.xml"
    crc = zlib.crc32(payload[:1000])
    local = data.find(b"PK\x03\x04")
    while data[local + 30 : local + 30 + len(name)] != name:
        local = data.find(b"PK\x03\x04", local + 4)
    struct.pack_into("<I", data, local + 14, crc)
    struct.pack_into("<I", data, local + 22, 1000)
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(name))
    struct.pack_into("<I", data, central + 16, crc)
    struct.pack_into("<I", data, central + 24, 1000)
    peak, raised = _peak_mb(lambda: ingest.parse_bytes(bytes(data), "liar.docx"))
    assert isinstance(raised, KnowledgeError) and "liar.docx" in str(raised)
    assert peak < 20, f"{peak:.0f} MB"


# ---------------------------------------------------------------------------------------------- malformed files


def _bad_docx_cases() -> dict[str, bytes]:
    good = _docx()
    ns = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    return {
        "not-a-zip": b"PK\x03\x04" + os.urandom(2000),
        "empty-zip": _rezip(good, drop=tuple(zipfile.ZipFile(io.BytesIO(good)).namelist())),
        "no-document-part": _rezip(good, drop=("word/document.xml",)),
        "document-not-xml": _rezip(good, replace={"word/document.xml": b"<w:document <<<"}),
        "document-without-body": _rezip(good, replace={"word/document.xml": b"<w:document " + ns + b"/>"}),
        "content-types-broken": _rezip(good, replace={"[Content_Types].xml": b"\x00\xff garbage"}),
        "truncated": good[: len(good) // 2],
    }


@pytest.mark.parametrize("case", list(_bad_docx_cases()))
def test_malformed_word_files_are_a_clear_error_naming_the_file(case):
    with pytest.raises(KnowledgeError) as info:
        ingest.parse_bytes(_bad_docx_cases()[case], f"{case}.docx")
    assert f"{case}.docx" in str(info.value)


def _bad_pdf_cases() -> dict[str, bytes]:
    good = _pdf()
    nested = b"[" * 50_000 + b"]" * 50_000
    return {
        "garbage-after-header": b"%PDF-1.7\n" + os.urandom(3000),
        "truncated": good[: len(good) // 2],
        "no-xref": good.replace(b"xref", b"xxxx").replace(b"startxref", b"startxxxx"),
        "unknown-filter": good.replace(b"/FlateDecode", b"/NoSuchDecode"),
        "deeply-nested": b"%PDF-1.4\n1 0 obj\n" + nested + b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
    }


@pytest.mark.parametrize("case", list(_bad_pdf_cases()))
def test_malformed_pdfs_are_a_clear_error_naming_the_file(case):
    with pytest.raises(KnowledgeError) as info:
        ingest.parse_bytes(_bad_pdf_cases()[case], f"{case}.pdf")
    assert f"{case}.pdf" in str(info.value)


def _raising(error: BaseException):
    def parser(*args, **kwargs):
        raise error

    return parser


def _parser_errors() -> list:
    from lxml import etree  # pyright: ignore[reportAttributeAccessIssue]  # compiled module, lxml ships no stubs
    from pypdf.errors import DeprecationError

    try:
        etree.fromstring(b"<a")
    except etree.XMLSyntaxError as e:
        xml_error = e
    return [
        NotImplementedError("unsupported filter"),
        DeprecationError("old API"),
        AttributeError("'NoneType' object has no attribute 'body'"),
        RecursionError("too deep"),
        xml_error,
        ZeroDivisionError("bad matrix"),
    ]


@pytest.fixture
def parse_in_this_process() -> Iterator[None]:
    """The readers patched below are this process's: files are parsed here, not in a worker."""
    with workers.in_threads():
        yield


@pytest.mark.parametrize("error", _parser_errors(), ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("kind", ["pdf", "docx"])
@pytest.mark.usefixtures("parse_in_this_process")
async def test_any_parser_exception_is_that_files_error_and_the_batch_goes_on(kb, tmp_path, monkeypatch, kind, error):
    import docx
    import pypdf

    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "a-harbour.txt").write_text(ARTICLE)
    (folder / f"b-broken.{kind}").write_bytes(_pdf() if kind == "pdf" else _docx())
    monkeypatch.setattr(pypdf, "PdfReader", _raising(error))
    monkeypatch.setattr(docx, "Document", _raising(error))
    (folder / "c-library.md").write_text(OTHER)
    report = await asyncio.wait_for(kb.index_paths([folder]), 300)
    assert sorted(d.title for d in report.added) == [
        "Council approves the new library",
        "Harbour reopens after the storm",
    ]
    [failure] = report.errors
    assert isinstance(failure, CorruptFile) and f"b-broken.{kind}" in str(failure)


@pytest.mark.usefixtures("parse_in_this_process")
async def test_add_bytes_of_a_file_whose_parser_crashes_raises_corrupt_file(kb, monkeypatch):
    import pypdf

    monkeypatch.setattr(pypdf, "PdfReader", _raising(NotImplementedError("nope")))
    with pytest.raises(CorruptFile, match="upload.pdf"):
        await kb.add_bytes(_pdf(), "upload.pdf")


# ---------------------------------------------------------------------------------------------- links, FIFOs, devices


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=MTIzNDU2Nzg5.secret-token-value\n")
    secret_dir = tmp_path / "private"
    secret_dir.mkdir()
    (secret_dir / "notes.txt").write_text("Private notes\n\nThe vault code is 4471 and nobody else may read it.\n")
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "harbour.txt").write_text(ARTICLE)
    return folder


async def test_a_link_out_of_the_folder_is_not_followed(kb, seeds):
    (seeds / "env.txt").symlink_to("../.env")
    (seeds / "notes.txt").symlink_to(seeds.parent / "private" / "notes.txt")
    (seeds / "private").symlink_to(seeds.parent / "private", target_is_directory=True)
    report = await kb.index_paths([seeds])
    assert [d.title for d in report.added] == ["Harbour reopens after the storm"] and not report.errors
    assert await kb.count_documents() == 1
    hits = await kb.search("DISCORD_TOKEN secret token value vault code")
    assert all("secret-token" not in h.passage.text and "vault" not in h.passage.text for h in hits)


async def test_a_link_inside_the_folder_is_followed(kb, seeds):
    (seeds / "sub").mkdir()
    (seeds / "sub" / "library.md").write_text(OTHER)
    (seeds / "also-library.md").symlink_to("sub/library.md")
    assert [p.name for p in expand_paths([seeds])] == ["also-library.md", "harbour.txt", "library.md"]


async def test_a_fifo_in_a_folder_is_skipped_without_hanging(kb, seeds):
    os.mkfifo(seeds / "pipe.txt")
    report = await asyncio.wait_for(kb.index_paths([seeds]), 300)  # a bound for a hang, not a speed
    assert [d.title for d in report.added] == ["Harbour reopens after the storm"] and not report.errors


@pytest.mark.parametrize("make", ["fifo", "link-to-dev-zero", "dev-zero"])
async def test_a_fifo_or_device_given_directly_is_a_clear_error_without_hanging(kb, tmp_path, make):
    if make == "fifo":
        path = tmp_path / "pipe.txt"
        os.mkfifo(path)
    elif make == "link-to-dev-zero":
        path = tmp_path / "zero.txt"
        path.symlink_to("/dev/zero")
    else:
        path = Path("/dev/zero")
    report = await asyncio.wait_for(kb.index_paths([path, tmp_path / "missing.txt"]), 300)
    first, second = report.errors
    assert path.name in str(first) and isinstance(first, KnowledgeError) and "missing.txt" in str(second)
    if make != "dev-zero":
        assert isinstance(first, UnsupportedFileType) and "not a regular file" in str(first)
    with pytest.raises(KnowledgeError):
        await asyncio.wait_for(kb.add_file(path), 300)


# ---------------------------------------------------------------------------------------------- bidi controls


BIDI = [
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
]


@pytest.mark.parametrize("ch", BIDI, ids=lambda c: f"U+{ord(c):04X}")
def test_bidi_controls_leave_titles_authors_and_sources(ch):
    text = (
        f"---\ntitle: Harbour {ch}reopens\nauthor: Jane {ch}Doe\nsource: The {ch}Gazette\n---\n\n"
        + ARTICLE.split("\n\n", 1)[1]
    )
    doc = ingest.parse_bytes(text.encode(), "harbour.md")
    assert (doc.title, doc.author, doc.source) == ("Harbour reopens", "Jane Doe", "The Gazette")


async def test_bidi_controls_leave_file_names_and_given_titles(kb, tmp_path):
    path = tmp_path / "invoice\u202etxt.exe.md"
    path.write_text(ARTICLE.split("\n\n", 1)[1])  # no title line: the title comes from the file name
    doc = await kb.add_file(path)
    assert "\u202e" not in doc.title and doc.title == "invoicetxt.exe"
    given = await kb.add_text(OTHER, title="Council \u2067approves\u2069 the library")
    assert given.title == "Council approves the library"
    with pytest.raises(UnsupportedFileType) as info:
        ingest.parse_bytes(b"x", "photo\u202egnp.exe")
    assert "\u202e" not in str(info.value)


# ---------------------------------------------------------------------------- limits on reading a file


def _pdf_of(pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for i in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Report page {i}. The harbour authority published figures for cargo in week {i}.")
    return bytes(pdf.output())


async def test_a_pdf_over_the_page_limit_is_refused_naming_the_limit(kb_config, tmp_path):
    config = replace(kb_config, max_pdf_pages=5)
    async with await KnowledgeBase.open(config, embedder=HashingEmbedder()) as kb:
        with pytest.raises(FileTooComplex, match="has 12 pages, over the limit of 5"):
            await kb.add_bytes(_pdf_of(12), "long.pdf")
        assert await kb.count_documents() == 0
        doc = await kb.add_bytes(_pdf_of(3), "short.pdf")
        assert doc.passages >= 1


async def test_a_file_past_the_parse_time_limit_is_stopped_and_the_next_one_indexed(kb_config, tmp_path):
    slow = replace(kb_config, parse_timeout_s=0.05)  # 300 pages take seconds to read
    async with await KnowledgeBase.open(slow, embedder=HashingEmbedder()) as kb:
        with pytest.raises(FileTooComplex, match=r"slow\.pdf: reading it took over 0\.05 s"):
            await kb.add_bytes(_pdf_of(300), "slow.pdf")
        assert await kb.count_documents() == 0
    async with await KnowledgeBase.open(kb_config, embedder=HashingEmbedder()) as kb:
        doc = await kb.add_bytes(_pdf_of(3), "short.pdf")
        assert doc.passages >= 1
