"""Plain-text rendering of answers and dates, for terminals: the ``newsdesk`` CLI and the bot's
console (the Discord layer renders embeds of its own in ``bot/render.py``)."""

from __future__ import annotations

import textwrap

from .dates import format_date
from .models import Answer, Citation


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
