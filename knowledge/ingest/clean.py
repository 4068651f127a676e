"""The boilerplate rules and the cleaning pass shared by every format: title line, header zone
(bylines, datelines, reading times), lead-ins, credits, origin and copyright notes, promotions and
inserted related-story headlines."""

from __future__ import annotations

import datetime as dt
import logging
import re

from ..errors import EmptyDocument
from ..text import is_data_row, sign_off
from .document import LIST_ITEM, SENTENCE_END, Block, Draft, ParsedDocument, clean_name, same_text
from .metadata import (
    RIGHTS,
    Header,
    copyright_notice,
    credit_author,
    header_line,
    is_reading_time,
    origin_publisher,
    title_date,
    title_from_text,
    wire_agency,
    wire_date,
)

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- rules
#
# Every rule looks at the shape of one paragraph (its length, its ending, its first words, its
# vocabulary), never at a particular publisher's wording, so the same rules work for wire copy,
# newspaper sites and newsletters.


# Lines that only lead readers elsewhere. Imperative ones ("Subscribe", "Sign up") are checked for
# reporting verbs so that "Sign-ups rose, the ministry said." is not taken for one.
_LEAD_IN = re.compile(
    r"^(?:read\s+more\b|read\s+next\b|read\s+also\b|also\s+read\b|more\s*:|related\b(?:\s+(?:coverage|stories|"
    r"articles?|content|reading|news|topics))?\s*(?::|$)|see\s+also\b|"
    r"(?:advertisement|advert|ad|sponsored(?:\s+content)?)\b.{0,40}$|"
    r"(?:the\s+)?(?:story|article)\s+continues\b|continue\s+reading\b|scroll\s+(?:down\s+)?to\s+continue\b|"
    r"sign\s+up\b|subscribe\b|follow\s+(?:us|@)|click\s+here\b|tap\s+here\b|watch\s*:|listen\s*:|"
    r"(?:photo(?:graph)?|image|picture|video|graphic)s?\s*(?:credit|caption|source)?\s*[:,]|share\s+this\b|download\s+(?:our|the)\b)",
    re.I,
)
_REPORTING = re.compile(r"\b(?:said|says|say|told|according\s+to|reported|announced|added)\b", re.I)
_CREDIT = re.compile(
    r"^\(?\s*(?:additional\s+)?(?:reporting|writing|editing|edited|compiled|research|fact[- ]checking|"
    r"graphics|produced)\s+by\b",
    re.I,
)
# Credits are names and places only: "Reporting by the BBC found ..." is a sentence and stays.
_CREDIT_WORDS = frozenset(
    "and in by with from of at additional reporting writing editing edited compiled research "
    "fact-checking fact checking graphics produced".split()
)
_CONTRIBUTED = re.compile(r"\bcontributed\s+(?:to\s+)?(?:this|the)\s+(?:report|story|article|coverage)\b\.?\)?$", re.I)
# About this very text ("This article ...", or a note that starts "Originally published ..."), so that
# "The novel was first published in 1851" in a story stays.
_ORIGIN = re.compile(
    r"(?i:\bthis\s+(?:article|story|piece|report|content|post|interview|column|essay)\s+(?:was\s+|is\s+|has\s+been\s+)?"
    r"(?:originally|first)\s+(?:appeared|published|posted|ran)\b|^\(?(?:this\s+\w+\s+)?(?:was\s+)?(?:originally|first)"
    r"\s+(?:appeared|published|posted)\s+(?:in|on|by|at)\b|\brepublished\s+(?:here\s+)?(?:with|by)\s+permission\b)"
)
# A notice, not a paragraph about copyright law: the mark is followed by a year or a capitalised holder.
_COPYRIGHT_START = re.compile(
    r"^(?i:copyright|©|\(c\))\s*(?:(?i:©|\(c\))\s*)?(?:(?:19|20)\d\d|[A-Z][^.]{0,60}"
    r"(?:19|20)\d\d)"
)


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
    re.I,
)
_SECOND_PERSON = re.compile(r"\byou(?:r|rs|rself|['’](?:ll|re|ve|d))?\b", re.I)
_PUBLISHER_VOICE = re.compile(r"\b(?:our|we|us)\b", re.I)
_IMPERATIVE = re.compile(
    r"^(?:get|sign|subscribe|join|download|explore|discover|try|read|listen|watch|follow|"
    r"register|support|visit|stay|find|learn|click|tap|don['’]?t)\b",
    re.I,
)


def _is_prose(text: str) -> bool:
    return bool(SENTENCE_END.search(text)) and len(text.split()) >= 8 or len(text) > 200


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


# An e-mail address or a telephone number: contact details, which no headline gives. A label and
# a person with a role ("Owner: Daniel Okafor, head of platform engineering") says who, as no
# headline does either (a photo's credit names an agency: "Photo: John Smith, Reuters").
_CONTACT_DETAILS = re.compile(
    r"[\w.+-]+@[\w-]+\.\w|\+?\d[\d ()-]{7,}\d|^[A-Z][\w ]{0,20}:\s+[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3},\s+[a-z]"
)


def _is_teaser(block: Block) -> bool:
    """An inserted related-story headline: a short standalone line with a headline's shape and no
    sentence ending. Under four words it is more likely a section heading, which is kept; with an
    e-mail address or a telephone number it is a contact line ("Media contact: Jon Eriksen,
    press@kestrel.example, +47 22 33 44 55" was dropped, and "Who is the media contact?" refused)."""
    text = block.text
    if block.heading or block.list_item or SENTENCE_END.search(text) or LIST_ITEM.match(text) or len(text) > 160:
        return False
    if _CONTACT_DETAILS.search(text) or text.isupper():
        return False  # a contact line, or a plain text's heading in capitals ("GRID FEES TO RISE")
    words = text.split()
    return 4 <= len(words) <= 22 and (text[0].isupper() or text[0].isdigit() or text[0] in "\"“‘'")


_CONTENTS_LABEL = re.compile(
    r"(?:in\s+this\s+(?:issue|edition|newsletter|report|update)|(?:table\s+of\s+)?contents|inside)\W*", re.I
)


def _contents(blocks: list[Block]) -> set[int]:
    """Which blocks are a table of contents: near the top, a run of two or more short lines each
    of which comes again later, in the same order and each over text of its own (a newsletter's
    "Offshore wind auction results" over "Hydrogen hub delayed", then each over its story), with
    the label above them ("In this issue"). The run, read as headings, gave the first story the
    words of every other. One list at most: lines a log or a chat repeats are no contents."""
    keys = [" ".join(b.text.casefold().split()) for b in blocks]
    for i in range(min(len(blocks), _CONTENTS_SPAN)):
        labelled = i > 0 and _CONTENTS_LABEL.fullmatch(blocks[i - 1].text.strip()) is not None
        j, after = i, None  # the run's end, and where its last entry comes again
        while j < len(blocks) and len(keys[j].split()) <= 12 and not SENTENCE_END.search(blocks[j].text):
            start = j if after is None else max(j, after)
            again = next((k for k in range(start + 1, len(keys)) if keys[k] == keys[j]), None)
            if again is None or (after is not None and again < after + 2):
                break
            j, after = j + 1, again
        if j - i >= 2 or j - i == 1 and labelled:
            return set(range(i - labelled, j))
    return set()


_CONTENTS_SPAN = 12  # blocks at the top where a contents list starts


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
    return bool(_COPYRIGHT_START.match(text) and len(text) < 400 or RIGHTS.search(text) and len(text) < 300)


def _looks_like_title(text: str) -> bool:
    return len(text) <= 200 and len(text.split()) <= 30 and not text.endswith(".") and "\n" not in text


# ---------------------------------------------------------------------------------------------- cleaning


_DATE_FIELD = re.compile(r"date\s*:", re.I)
_HEADER_SPAN = 8  # paragraphs at the top where bylines and datelines live


def finish(draft: Draft, *, name: str, fallback_title: str | None, today: dt.date | None = None) -> ParsedDocument:
    """The parsed document: boilerplate out, metadata in. ``today``: the day a file is indexed, to
    read a wire dateline that gives no year against (none: such a dateline dates nothing)."""
    blocks = [b for b in draft.blocks if b.text]
    removed: list[str] = []
    title = draft.title
    header = Header()

    # The title line: the first block when it has a title's shape (or equals the known title).
    if blocks and draft.title_in_body:
        first = blocks[0].text
        if title and same_text(first, title):
            blocks.pop(0)
        elif (
            title is None
            and _looks_like_title(first)
            and not header_line(first, Header())
            and not is_reading_time(first)
            and (len(blocks) > 1 or blocks[0].heading)
        ):
            title = blocks.pop(0).text

    # The header zone: bylines, datelines and reading times before the first real paragraph.
    kept: list[Block] = []
    in_header = True
    contents = _contents(blocks)
    for i, block in enumerate(blocks):
        text = block.text
        if in_header and (i >= _HEADER_SPAN or (_is_prose(text) and not is_reading_time(text))):
            in_header = False
        reason = None
        if i in contents:
            reason = "contents"
        elif not any(ch.isalnum() for ch in text):
            reason = "rule"  # "___", "* * *": decoration between sections
        elif in_header and not block.heading and header_line(text, header):
            # A field that says when, in minutes or a memo ("Date: 12 November 2026"), dates the
            # document and stays in its text: "When was the meeting?" is answered by it.
            reason = None if _DATE_FIELD.match(text) else "header"
        elif is_reading_time(text):
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
        elif (
            not in_header
            and kept
            and _is_teaser(block)
            and not (i == len(blocks) - 1 and sign_off(text))
            # A line over a table's rows or a list heads them: a PDF's "Market share by country"
            # over the header row over "Norway 91% 88%" (both were dropped as teasers).
            and not any(b.list_item or LIST_ITEM.match(b.text) or is_data_row(b.text) for b in blocks[i + 1 : i + 3])
        ):
            reason = "teaser"
        if reason:
            log.debug("%s: dropped %s: %.80r", name, reason, text)
            removed.append(text)
        else:
            kept.append(block)

    # A sign-off closing the text ("Analyst: Tomas Reinholt") names its author. It stays in the
    # text, whose words it is part of ("What rating does the analyst give?").
    signed = sign_off(kept[-1].text) if len(kept) > 1 and not kept[-1].heading else None
    paragraphs = [b.text for b in kept]
    if not paragraphs:
        if removed:
            raise EmptyDocument(f"{name}: no text left after removing boilerplate")
        raise EmptyDocument(f"{name}: no readable text found")

    source, published, precision, author = draft.source, draft.published, draft.precision, draft.author
    author = author or header.author or credit_author(removed) or signed
    # A dateline in the text beats a file's creation date, never a page's own publication metadata.
    text_date = header.date or header.updated or wire_date(paragraphs[0], today=today)
    if text_date and (published is None or draft.weak_date):
        published, precision = text_date
    publisher = next((p for p in map(origin_publisher, removed) if p), None)
    holder, year = None, None
    for text in removed:
        if re.search(r"(?i:copyright|©|\(c\))", text):
            holder, year = copyright_notice(text)
            if holder or year:
                break
    source = source or publisher or holder or header.org or wire_agency(paragraphs[0])
    if published is None and year:
        published, precision = dt.date(year, 1, 1), "year"

    if not title:
        title = fallback_title or title_from_text(paragraphs[0])
    # A date ending the title ("Editorial meeting minutes — 24 November 2026") beats a copyright
    # year and a file's creation date, never a date the text or the page states.
    weak = published is None or precision == "year" or (draft.weak_date and not text_date)
    if weak and (dated := title_date(title)):
        published, precision = dated
    return ParsedDocument(
        title=clean_name(title),
        paragraphs=paragraphs,
        source=source and clean_name(source),
        published=published,
        published_precision=precision,
        author=author and clean_name(author),
        removed=removed,
    )
