"""Splitting a document's clean paragraphs into passages.

A passage is an exact slice of the document's stored text (paragraphs joined by a blank line), so a
citation can point at the very characters it quotes. Short neighbouring paragraphs are packed
together up to ``target_words``; a paragraph over ``max_words`` is cut between sentences. Sizes are a
measured choice (see README, "Passage size"): all-MiniLM-L6-v2 reads 256 word pieces at most and was
trained on short texts, so passages of about a paragraph keep the dense side sharp while BM25 still
sees enough context.
"""

from __future__ import annotations

from collections.abc import Sequence

from .models import NewPassage
from .text import NUMBERED, headings, sha256, split_sentences

PARAGRAPH_SEPARATOR = "\n\n"
TARGET_WORDS = 90
MAX_WORDS = 150
MIN_SECTION_WORDS = 20  # a passage this long ends where a section begins


def embedding_key(title: str, text: str) -> str:
    """Hash of what is embedded for a passage (title + text): equal keys share one vector."""
    return sha256(f"{title}\n{text}")


def chunk_paragraphs(
    paragraphs: Sequence[str], *, title: str = "", target_words: int = TARGET_WORDS, max_words: int = MAX_WORDS
) -> list[NewPassage]:
    text = PARAGRAPH_SEPARATOR.join(paragraphs)
    # (start, end, paragraph index) of every piece: whole paragraphs, or sentence runs of long ones.
    pieces: list[tuple[int, int, int, int]] = []  # start, end, paragraph index, words
    pos = 0
    for index, para in enumerate(paragraphs):
        n = len(para.split())
        if n <= max_words:
            pieces.append((pos, pos + len(para), index, n))
        else:
            pieces.extend(_sentence_runs(para, pos, index, target_words))
        pos += len(para) + len(PARAGRAPH_SEPARATOR)

    passages: list[NewPassage] = []
    group: list[tuple[int, int, int, int]] = []

    def flush() -> None:
        if not group:
            return
        start, end = group[0][0], group[-1][1]
        body = text[start:end]
        passages.append(
            NewPassage(
                ordinal=len(passages),
                paragraph_index=group[0][2],
                char_start=start,
                char_end=end,
                text=body,
                text_hash=embedding_key(title, body),
            )
        )
        group.clear()

    # A heading is over text: each line of a list of short lines has a heading's shape.
    heading = headings(paragraphs)
    opens = _sections_opened(paragraphs, heading)
    for piece in pieces:
        words = sum(p[3] for p in group)
        # A sentence run of a long paragraph always stands alone; whole paragraphs are packed.
        # A section of its own starts a passage: on a product page of ~100 words the question
        # "How long does installation take?" met one passage of a table, a warranty and the
        # installation, at a cosine of 0.06, and was refused.
        section = opens[piece[2]] and group[-1][2] != piece[2] and words >= MIN_SECTION_WORDS if group else False
        if group and (words + piece[3] > target_words or piece[2] == group[-1][2] or section):
            # A heading ("Risks") goes with the text under it, never at the end of the passage
            # before: "What are the main risks?" met a passage on revenue that ended "Risks",
            # and the risks themselves without their heading.
            # Only a heading or two over text: a list of short lines ("Lena Dahl", "Marcus Berg")
            # is no run of headings, and carrying it would cut it a line at a time.
            carried: list[tuple[int, int, int, int]] = []
            while len(carried) < 2 and heading[group[-1][2]] and not all(heading[p[2]] for p in group):
                carried.insert(0, group.pop())
            flush()
            group.extend(carried)
        group.append(piece)
    flush()
    return passages


def _sections_opened(paragraphs: Sequence[str], heading: Sequence[bool]) -> list[bool]:
    """Which paragraphs open a section of their own: a numbered heading ("4. Expenses", "3.2 Sick
    leave"), the first of two headings ("Version 4.1" over "New"), and a lone heading in a text
    whose headings come alone ("Warranty", "Installation"). Where headings come in pairs, a lone
    one after text is under the pair's first ("Fixed" under "Version 4.2") and stays with it. Not
    the document's first heading: the opening above it is about the title as the first section
    is, and its sentences hold the title's words only in a passage with a heading
    (``sentences``): an incident report's summary ("For 2 hours and 10 minutes") lost them."""
    out = []
    pairs = seen = False
    for i, para in enumerate(paragraphs):
        first = heading[i] and not (i and heading[i - 1])
        pair = first and i + 1 < len(heading) and heading[i + 1]
        pairs = pairs or pair
        out.append(seen and first and (pair or bool(NUMBERED.match(para)) or not pairs))
        seen = seen or heading[i]
    return out


def _sentence_runs(para: str, offset: int, index: int, target_words: int) -> list[tuple[int, int, int, int]]:
    runs: list[tuple[int, int, int, int]] = []
    start: int | None = None
    end = 0  # set with start: read only while start is not None
    words = 0
    for s in split_sentences(para):
        n = len(s.text.split())
        if start is not None and words + n > target_words:
            runs.append((offset + start, offset + end, index, words))
            start, words = None, 0
        if start is None:
            start = s.start
        end = s.end
        words += n
    if start is not None:
        runs.append((offset + start, offset + end, index, words))
    return runs
