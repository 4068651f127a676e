"""Markdown: blocks as the renderer marks them (headings, list items, tables' rows, code), with the
title and metadata of a front matter block, and lines that each give a field kept apart."""

from __future__ import annotations

import re

from .document import Block, Draft, bulleted, normalise, table_blocks
from .metadata import find_date

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
    return meta, text[match.end() :]


def read_markdown(text: str) -> Draft:
    from markdown_it import MarkdownIt  # lazy like every format library: loaded when its format is first read

    text = normalise(text)
    meta, body = _front_matter(text)
    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    blocks: list[Block] = []
    row: list[str] | None = None
    table: list[list[str]] = []
    heading = False
    lists = 0
    number = ""  # the number of the ordered list item whose text comes next
    for token in tokens:
        if token.type == "table_open":
            table = []
        elif token.type == "table_close":
            blocks.extend(table_blocks(table, header=True))  # a Markdown table always has its header row
        elif token.type == "heading_open":
            heading = True
        elif token.type == "heading_close":
            heading = False
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            lists += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists -= 1
        elif token.type == "list_item_close":
            number = ""  # an item without text of its own gives its number to nothing after it
        elif token.type == "list_item_open" and token.info:
            # An ordered list's item keeps its number ("2. Restart the API pods"): "What is step
            # 2?" asks for it, and a bullet lost it.
            number = f"{token.info}{token.markup} "
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            table.append(row)
            row = None
        elif token.type == "inline":
            content = _inline_text(token)
            if row is not None:
                row.append(content)
            else:
                for line in filter(None, content.split("\n")):
                    line, number = number + line, ""
                    blocks.append(Block(bulleted(line) if lists else line, heading=heading, list_item=lists > 0))
        elif token.type in ("fence", "code_block") and token.content.strip():
            blocks.append(Block(normalise(token.content).strip()))
    draft = Draft(
        blocks,
        source=meta.get("source") or meta.get("publisher") or meta.get("site") or None,
        author=meta.get("author") or None,
    )
    if meta.get("title"):
        draft.title = meta["title"]
    elif blocks and blocks[0].heading:
        draft.title = blocks.pop(0).text
        draft.title_in_body = False
    if meta.get("date"):
        found = find_date(meta["date"])
        if found:
            draft.published, draft.precision = found
    return draft


# "Date: 12 November 2026", "Owner: Lars Holm": a field's line.
_FIELD = re.compile(r"[A-Z][\w /&-]{0,30}:\s+\S")


def _inline_text(token) -> str:
    """The reader-visible text of a markdown inline token: link text kept, markup and images
    dropped. Lines stay apart (joined by a newline) where each gives a field: "**Date:** 12
    November 2026" over "**Attendees:** ...", one paragraph to Markdown, was read as one line, and
    the minutes had no date."""
    lines: list[list[str]] = [[]]
    # Whether each line opens with a label in bold ("**Date:**"); None while its bold text is read.
    bold: list[bool | None] = [False]
    for child in token.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            content = child.content if child.type != "html_inline" else ""
            if bold[-1] is None:
                bold[-1] = content.rstrip().endswith(":")
            lines[-1].append(content)
        elif child.type == "strong_open" and not "".join(lines[-1]).strip():
            bold[-1] = None
        elif child.type in ("softbreak", "hardbreak"):
            lines.append([])
            bold.append(False)
    texts = [re.sub(r" {2,}", " ", "".join(parts)).strip() for parts in lines]
    out = texts[0]
    for i in range(1, len(texts)):
        fields = bool(bold[i]) or bool(_FIELD.match(texts[i]) and _FIELD.match(texts[i - 1]))
        out = f"{out}\n{texts[i]}" if fields and out else f"{out} {texts[i]}"
    return re.sub(r" {2,}", " ", out).strip()
