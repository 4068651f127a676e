"""Sentences with their character offsets, words and hashes: the small text tools that ingest,
retrieval, answers and briefings share."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

# maintained rule-based segmenter, no model data to download; a compiled module without type information,
# so pyright cannot see its symbols
from sentencex import segment  # pyright: ignore[reportAttributeAccessIssue]

_WORD = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)

# Common English function words: kept out of BM25 queries and lexical overlap scores, where they only
# add noise (FTS5 has no stopword list of its own).
STOPWORDS = frozenset(
    """
a about above after again against all am an and any are aren't as at be because been before being below
between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself
him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most
mustn't my myself no nor not of off on once only or other ought our ours ourselves out over own same shan't she
she'd she'll she's should shouldn't so some such than that that's the their theirs them themselves then there
there's these they they'd they'll they're they've this those through to too under until up very was wasn't we
we'd we'll we're we've were weren't what what's when when's where where's which while who who's whom why why's
with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves
also just said says say will may might must shall us new one two many much whose
""".split()
)


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # offsets into the text it was split from
    end: int


# The end of a sentence (a heading, a byline or a list item has none).
SENTENCE_END = re.compile(r"[.!?…:;\"”’'»]\)?$")
# A list item: "- Laptop", "• Monitor", "2) Headset", "b. Chair".
LIST_ITEM = re.compile(r"^(?:[-*•–]|\d{1,3}[.)]|[a-z][.)])\s")
# "Who to ask", "How to apply": a heading, though it has words enough for a sentence.
_HOW_TO = re.compile(r"(?:who|what|when|where|why|how)\s+(?:to|it)\b", re.I)


def is_heading(text: str, *, own_line: bool = False) -> bool:
    """A heading's shape: "Risks", "Outlook", "Who to ask" (short, and not ended as a sentence).
    ``own_line``: ``text`` is a whole line or paragraph, which a heading of a few words
    ("Pricing and availability", "2. Warranty claims") is; a line that sets a label off with a
    colon ("Media contact: press@example.com") says something and is none."""
    text = text.strip()
    if own_line and text.endswith(":") and len(text.split()) <= 4:
        return True  # "Actions:", "Key risks:": a label over the list below it
    if is_data_row(text):
        return False  # "Norway 91% 88%": a row of a table's figures is what is under a heading
    if SENTENCE_END.search(text):
        return False
    if len(text.split()) < 3 and len(text) < 20 or len(text.split()) <= 5 and _HOW_TO.match(text):
        return True
    if not own_line or ":" in text:
        return False
    text = NUMBERED.sub("", text)
    return len(text.split()) <= 6 and text[:1].isupper()


# "2. Warranty claims", "3.1 Annual leave", "B) Budget": the number of a numbered heading or item
# (the sentence splitter reads "2." as a sentence of its own). A bare number is none: "12 people".
NUMBERED = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})+\.?|\d{1,2}[.)]|[A-Za-z][.)])\s+")


def headings(lines: Sequence[str], own: Sequence[bool] | None = None) -> list[bool]:
    """Which of ``lines`` (each the whole of its line, or as ``own`` says) are headings: those
    with a heading's shape (``is_heading``) over text, one or two lines above it ("Version 4.2"
    over "Fixed" over the fixes; "3. Leave" over "3.1 Annual leave"), and a line over rows of
    figures, which names their columns (a PDF's "Country EV share Q3 2026 EV share Q3 2025" over
    "Norway 91% 88%"). Each line of a list of short lines ("Lena Dahl", "Marcus Berg", ...) has
    a heading's shape too, and is no heading."""
    own = [True] * len(lines) if own is None else own
    items = numbered_items(lines)
    shaped = [is_heading(line, own_line=o) and not item for line, o, item in zip(lines, own, items, strict=True)]
    rows = [o and is_data_row(line) for line, o in zip(lines, own, strict=True)]
    n = len(lines)
    return [
        shaped[i]
        and (i + 1 < n and not shaped[i + 1] or i + 2 < n and not shaped[i + 2])
        or own[i]
        and not rows[i]
        and not SENTENCE_END.search(lines[i])
        and i + 2 < n
        and rows[i + 1]
        and rows[i + 2]
        for i in range(n)
    ]


# A table row as the readers write it ("Market: Norway; Price: 7,900 euros; ...", or without a
# header "Norway | 7,900 euros | February 2027": ``ingest.document.table_blocks``).
TABLE_ROW = re.compile(r"\w[\w ]{0,30}: [^;]+; |[^|]+ \| ")


def numbered_items(lines: Sequence[str]) -> list[bool]:
    """Which lines are items of a numbered list: numbered one up or down from the line before or
    after ("1. Plug it in" over "2. Press the power button"). A numbered heading has text under it
    before the next one ("3. Leave", then "4. Expenses"), or a lower level ("3.1 Annual leave")."""
    numbers = [number_parts(line) for line in lines]

    def sibling(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> bool:
        return a is not None and b is not None and len(a) == len(b) and a[:-1] == b[:-1] and abs(a[-1] - b[-1]) == 1

    n = len(lines)
    return [
        sibling(numbers[i], numbers[i - 1] if i else None) or sibling(numbers[i], numbers[i + 1] if i + 1 < n else None)
        for i in range(n)
    ]


def number_parts(line: str) -> tuple[int, ...] | None:
    """ "3.1 Annual leave" -> (3, 1), "b) Budget" -> (2,): the number of a numbered line, one part
    a level."""
    found = NUMBERED.match(line)
    if not found:
        return None
    parts = found.group(0).strip().rstrip(".)").split(".")
    return tuple(int(p) if p.isdigit() else ord(p.lower()) - 96 for p in parts)


# A figure: "91%", "412", "(3.5)", "-2.1%", "$86" ("$4.3bn" is none: "bn" is a word).
_FIGURE = re.compile(r"[-+(]?[$€£¥]?\d[\d.,]*%?\)?")
# A date written out ("November 18, 2026", "18 Nov 2026") holds figures and is no row of them.
_WRITTEN_DATE = re.compile(
    r"\b(?:\d{1,2}\s+)?(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
    r"(?:\s+\d{1,2}(?:st|nd|rd|th)?)?,?\s+\d{4}\b"
)


def is_data_row(text: str) -> bool:
    """A row of a table's figures as a PDF gives it: a label and two figures or more, the figures
    at least half its words ("Norway 91% 88%", "Revenue 412 361 14%"); not a heading that dates
    itself ("Version 4.2 — November 18, 2026")."""
    tokens = _WRITTEN_DATE.sub(" ", text).split()
    figures = sum(bool(_FIGURE.fullmatch(t)) for t in tokens)
    return figures >= 2 and 2 * figures >= len(tokens)


# A sign-off ending a report or a letter: "Analyst: Tomas Reinholt", "Written by Jane Doe, Oslo",
# "— Maria Lindqvist, senior correspondent". A person's name of two to four capitalised words, then
# at most a short role or place; a sentence ("By Friday the port was open.") is no sign-off. It
# names the author (ingest), and is no answer to a question about the text (sentences).
_SIGN_OFF = re.compile(
    r"^(?:(?i:analysts?|authors?|written\s+by|words\s+by|reporter|correspondent|signed)\s*[:：]?\s+|"
    r"(?i:by)\s+|[—–-]{1,2}\s*)"
    r"(?P<name>[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3})(?:\s*[,|–—-]\s*(?P<role>[^.!?:;]{1,60}))?\.?$"
)


def sign_off(text: str) -> str | None:
    """The person a closing line signs the text with, or None."""
    match = _SIGN_OFF.match(text.strip())
    if not match or len(text) > 120:
        return None
    return match["name"].rstrip(".")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]


def sha256(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=1)
def _stemmer():
    # Lazy: nltk takes over a second to import. The original algorithm, as FTS5's porter tokenizer.
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer(mode=PorterStemmer.ORIGINAL_ALGORITHM)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer().stem(word)


_INDEX_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def index_tokens(text: str) -> list[str]:
    """Tokens as SQLite FTS5's ``porter unicode61 remove_diacritics 2`` makes them: runs of letters
    and digits, lowercased, accents removed, Porter-stemmed."""
    return [stem(t) or t for t in _INDEX_TOKEN.findall(fold_accents(text.lower()))]


def fold_accents(text: str) -> str:
    """``text`` without its accents ("Gdańsk" -> "Gdansk", "Perić" -> "Peric"), as the index reads
    it: a question typed without them meets the document that has them."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# Fallback for abbreviations sentencex leaves alone; also the split used when a "sentence" is
# absurdly long (tables, lists without punctuation).
_HARD_SPLIT = re.compile(r"(?<=[.!?;])\s+")


def split_sentences(text: str, *, max_chars: int = 600) -> list[Sentence]:
    """Sentences of ``text`` with offsets such that ``text[s.start:s.end] == s.text``."""
    out: list[Sentence] = []
    pos = 0
    for piece in segment("en", text):
        piece = piece.strip()
        if not piece:
            continue
        start = text.find(piece, pos)
        if start < 0:  # the segmenter normalised something: fall back to a plain split of the rest
            return out + _regex_sentences(text, pos)
        end = start + len(piece)
        pos = end
        if len(piece) > max_chars:
            out.extend(_regex_sentences(text[start:end], 0, offset=start, max_chars=max_chars))
        else:
            out.append(Sentence(piece, start, end))
    return out


def _regex_sentences(text: str, pos: int, *, offset: int = 0, max_chars: int = 600) -> list[Sentence]:
    out = []
    for m in re.finditer(r"\S(?:.*?)(?:[.!?;](?=\s)|$)", text[pos:], re.S):
        piece = m.group(0).strip()
        if not piece:
            continue
        start = pos + m.start()
        while len(piece) > max_chars:  # cut at a space so a quote never exceeds what we can show
            cut = piece.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            out.append(Sentence(piece[:cut], offset + start, offset + start + cut))
            rest = piece[cut:]
            skip = len(rest) - len(rest.lstrip())
            start += cut + skip
            piece = rest.strip()
        if piece:
            out.append(Sentence(piece, offset + start, offset + start + len(piece)))
    return out


def repeats(sentence: str, earlier: str, threshold: float) -> bool:
    """Whether ``sentence`` says again what ``earlier`` said: more than ``threshold`` of the shorter
    one's distinct words are in the other, and it has no figure or name the other lacks. A
    table's rows share most of their words ("Country: Germany; Meals per day: 45 EUR" after
    Norway's row), and "and germany?" got "the documents hold nothing more"."""
    opening = next((i for i, ch in enumerate(sentence) if ch.isalnum()), 0)
    # Its first word counts only as a figure: any sentence capitalises it ("The storm ...").
    own = {m.group(0) for m in _SPECIFIC.finditer(sentence) if m.start() != opening or m.group(0)[0].isdigit()}
    return overlap(sentence, earlier) > threshold and own <= set(_SPECIFIC.findall(earlier))


_SPECIFIC = re.compile(r"\b[A-Z][\w'’-]*|\b\w*\d[\w.,]*\w|\b\d\b")


def overlap(a: str, b: str) -> float:
    """Share of the shorter text's distinct words found in the other."""
    wa, wb = set(words(a)), set(words(b))
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))
