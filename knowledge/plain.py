"""Plain-text rendering of answers and dates, for terminals: the ``newsdesk`` CLI and the bot's
console (the Discord layer renders embeds of its own in ``bot/render.py``)."""

from __future__ import annotations

import textwrap

from .dates import format_date
from .models import Answer, Citation, Document


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 passage``, ``2 passages``, ``0 stories`` (``many`` where adding an s is wrong)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def format_answer(answer: Answer) -> str:
    """The answer, then its numbered sources (or, for a refusal, the closest passages)."""
    lines = [answer.text, ""]
    if answer.citations:
        lines.append("Sources:")
        lines += [format_citation(c) for c in answer.citations]
    elif answer.related:
        lines += [format_citation(c) for c in answer.related]
    return "\n".join(lines).rstrip()


def format_citation(c: Citation) -> str:
    where = f"#{c.document_id} ¶{c.paragraph_index + 1}, chars {c.char_start}–{c.char_end}"
    source = f" · {c.source}" if c.source else ""
    head = f"[{c.number}] {c.title} — {format_date(c.published, c.published_precision)}{source} ({where})"
    return f"{head}\n{indent('“' + c.quote + '”')}"


def format_document(doc: Document, text: str = "", *, excerpt_chars: int = 1500) -> str:
    """A document's details and the opening of its text (``doc show`` in the console, ``newsdesk
    docs show``): the fields ``/doc show`` puts in its embed."""
    lines = [
        f"#{doc.id} {doc.title}",
        f"    source: {doc.source or 'unknown'} · published: {format_date(doc.published, doc.published_precision)}"
        f" · author: {doc.author or 'unknown'}",
        f"    origin: {doc.origin}",
        f"    size: {plural(doc.passages, 'passage')}, {plural(doc.words, 'word')}"
        f" · added {doc.added_at.strftime('%Y-%m-%d %H:%M UTC')}"
        f" · visible {'everywhere' if doc.guild_id is None else f'in guild {doc.guild_id} only'}",
    ]
    opening = text.strip()
    if opening:
        if len(opening) > excerpt_chars:
            opening = opening[:excerpt_chars].rsplit(" ", 1)[0] + " …"
        lines += ["", indent(opening)]
    return "\n".join(lines)


def indent(text: str, width: int = 100) -> str:
    return "\n".join(
        textwrap.fill(p, width=width, initial_indent="    ", subsequent_indent="    ")
        for p in text.split("\n")
        if p.strip()
    )


# What a spreadsheet reads as the start of a formula (OWASP's list for CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: a string starting like a formula gets a leading
    single quote. Numbers are left as they are (a negative number is not a formula)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
