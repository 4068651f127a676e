"""Metadata found in the text: dates and datelines, bylines, wire agencies, publishers named in
"originally appeared in" and copyright lines, and titles and authors a file's generator wrote."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..dates import MONTHS
from ..text import sign_off
from .document import SENTENCE_END, normalise

# Titles and authors that document generators write on their own: not the article's.
_GENERATOR_NAMES = re.compile(
    r"^(?:untitled.*|word document|document\d*|microsoft word - .*|python-docx|"
    r"administrator|user|author|owner|unknown|microsoft office user|.*\.(?:docx?|pdf))$",
    re.I,
)


def useful_title(title: str | None) -> str | None:
    if not title:
        return None
    title = " ".join(normalise(str(title)).split())
    return None if not title or _GENERATOR_NAMES.match(title) else title


def clean_author(author: str | None) -> str | None:
    if not author:
        return None
    author = " ".join(normalise(str(author)).split())
    author = re.sub(r"^by\s+", "", author, flags=re.I)
    return None if not author or _GENERATOR_NAMES.match(author) else author


# ---------------------------------------------------------------------------------------------- dates

# The month names of questions and of documents are one table (``dates.MONTHS``): a spelling
# understood in one is understood in the other.
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_PATTERNS = [
    re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<mnum>[01]?\d)-(?P<day>[0-3]?\d)(?![\d])"),  # 2022-01-11
    re.compile(rf"\b{_MONTH}\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d\d)\b", re.I),
    re.compile(rf"\b(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(?P<year>(?:19|20)\d\d)\b", re.I),
    re.compile(r"\b(?P<year>(?:19|20)\d\d)/(?P<mnum>[01]?\d)/(?P<day>[0-3]?\d)\b"),  # 2022/01/11
]
_MONTH_YEAR = [
    re.compile(r"^\s*(?P<year>(?:19|20)\d\d)-(?P<mnum>[01]?\d)\s*$"),
    re.compile(rf"^\s*{_MONTH},?\s+(?P<year>(?:19|20)\d\d)\s*$", re.I),
]
_YEAR_ONLY = re.compile(r"^\s*(?P<year>(?:19|20)\d\d)\s*$")


def find_date(text: str) -> tuple[dt.date, str] | None:
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
    month = int(groups["mnum"]) if groups.get("mnum") else MONTHS.get(groups["month"].lower().rstrip("."))
    try:
        return dt.date(int(groups["year"]), month or 0, int(groups["day"]) if day else 1)
    except ValueError:  # 2022-02-30 and the like are not dates
        return None


_READING_TIME = re.compile(
    r"^(?:(?:estimated\s+)?reading\s+time:?\s*)?(?:about\s+)?\d+(?:\s*[-–]\s*\d+)?\s*[-‑]?\s*"
    r"(?:min(?:ute)?s?|m)\.?(?:\s+(?:read|reading|to\s+read|listen))?$",
    re.I,
)
_BYLINE = re.compile(
    r"^(?i:by|words\s+by|written\s+by)\s+(?P<names>[A-Z][\w'’.-]*(?:[ ,]+(?:and\s+|&\s+)?"
    r"[A-Z][\w'’.-]*){0,8})(?:\s*[,|/–—-]\s*(?P<org>[A-Z][\w&'’. -]{1,40}))?$"
)
_PREPARED = re.compile(r"^(?i:prepared|compiled|produced|issued|edited)\s+by\s+(?P<who>\S.{1,60})$")
_DATE_WORDS = re.compile(
    r"\b(?:published|updated|last\s+updated|first\s+published|posted|modified|date|dated|recorded|on|at|as\s+of|"
    r"mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"am|pm|a\.m|p\.m|gmt|utc|bst|cet|cest|est|edt|cst|cdt|mst|mdt|pst|pdt|et|pt|hkt|sgt|jst|ist|aest|"
    r"local\s+time|time)\b\.?",
    re.I,
)
_TIME = re.compile(
    r"(?<![\w:])T?\d{1,2}[:.]\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[ap]\.?m\.?)?Z?(?!\w)|"
    r"[+-]\d{2}:?\d{2}\b",
    re.I,
)
# A dateline cut off from its paragraph: "Atlanta CNN —", "LONDON (Reuters) -".
_PLACE_LINE = re.compile(r"^(?:[A-Z][\w.'’-]*,?\s+){1,4}\(?(?P<org>[A-Z][A-Za-z&.]*[A-Z])\)?\s*[-–—]{1,2}$")
_SEPARATORS = re.compile(r"\s*[·•|]\s*|\s+[-–—]\s+")


RIGHTS = re.compile(r"\ball\s+rights\s+reserved\b", re.I)
_NAME = r"[A-Z0-9][\w'’&.-]*(?:\s+(?:[A-Z0-9][\w'’&.-]*|of|and|&|for|the|de|du|la|del))*"
_ORIGIN_NAME = re.compile(
    r"(?i:(?:originally|first)\s+(?:appeared|published|posted|ran)\s+(?:in|on|by|at)\s+)"
    rf"(?:the\s+)?(?P<name>{_NAME})"
)
_COPYRIGHT_NAME = [
    re.compile(
        r"(?i:copyright|©|\(c\))\s*(?:(?i:©|\(c\))\s*)?(?P<year>(?:19|20)\d\d)(?:\s*[-–]\s*"
        rf"(?P<year2>(?:19|20)\d\d))?[.,]?\s+(?P<name>{_NAME})"
    ),
    re.compile(
        rf"(?i:copyright|©|\(c\))\s*(?:(?i:©|\(c\))\s*)?(?P<name>{_NAME}?)[.,]?\s+"
        r"(?P<year>(?:19|20)\d\d)\b"
    ),
    re.compile(r"(?i:copyright|©|\(c\))\s*(?:(?i:©|\(c\))\s*)?(?P<year>(?:19|20)\d\d)\b"),
]
_CORPORATE = re.compile(
    r"(?:[\s,&]+(?:ltd|limited|inc|incorporated|llc|llp|plc|pty|gmbh|ag|sa|s\.a|n\.v|co|"
    r"corp|corporation|company|group|holdings|publishers|publishing|publications)\.?)+$",
    re.I,
)
# "SANTIAGO, Dec 2 (Wire) -": a month and a day, the year left out.
_WIRE_DAY = re.compile(r",\s*(?P<month>[A-Z][a-z]{2,8}\.?)\s+(?P<day>\d{1,2})\s*\(")
_AGENCY = re.compile(r"^[^()]{0,60}?\((?P<agency>[A-Z][A-Za-z&.' ]{1,30})\)\s*[-–—]{1,2}\s")


def is_reading_time(part: str) -> bool:
    return bool(_READING_TIME.match(part.strip(" ·•|-–—")))


def _dateline_date(part: str) -> tuple[dt.date, str] | None:
    """A line that is only a date, maybe with a time, weekday, zone and "Published"/"Updated"."""
    if len(part) > 90:
        return None
    found = find_date(part)
    if not found:
        return None
    rest = part
    for pattern in _DATE_PATTERNS:
        rest = pattern.sub(" ", rest)
    rest = _DATE_WORDS.sub(" ", _TIME.sub(" ", rest))
    return found if not re.sub(r"[\W_]+", "", rest) else None


@dataclass
class Header:
    """Metadata found in the lines at the top of an article."""

    author: str | None = None
    org: str | None = None  # "By Jane Doe, CNN": a weak hint at the publisher
    date: tuple[dt.date, str] | None = None
    updated: tuple[dt.date, str] | None = None


def header_line(text: str, header: Header) -> bool:
    """Is this top-of-article line only metadata (byline, dateline, reading time, and the like joined by
    · or |)? If so, record what it says in ``header``."""
    if len(text) > 160:
        return False
    parts = [p for p in _SEPARATORS.split(text) if p and p.strip(" ·•|-–—")]
    found = Header()
    kinds: list[str] = []
    split_names = False  # a name only separated from a date by a split: trusted next to a byline only
    for part in parts:
        part = part.strip()
        # A name is the weakest reading: "Harbour Gazette 2026-12-01" is a name and a date.
        kind = _header_part(part, found, allow_names=False)
        if kind is None and (split := _split_date(part)):
            pieces = [(piece, _header_part(piece, found)) for piece in split]
            # "Analyst report, October 5, 2026": a label set off from its date by a comma is a
            # dateline. Run together ("Budget Day December 1, 2026") it may be a heading.
            set_off = re.match(rf"{re.escape(split[0])}\s*,", part) is not None
            split_names = split_names or (any(k == "name" for _, k in pieces) and not set_off)
        else:
            pieces = [(part, kind or _header_part(part, found))]
        for piece, kind in pieces:
            if kind is None:
                return False
            if kind == "name" and kinds and kinds[-1] == "byline":
                found.org = found.org or piece  # "By Jane Doe | The Harbour Gazette"
            kinds.append(kind)
    if not kinds or all(k == "name" for k in kinds) or (split_names and "byline" not in kinds):
        return False
    header.author = header.author or found.author
    header.org = header.org or (found.org.strip() if found.org else None)
    header.date = header.date or found.date
    header.updated = header.updated or found.updated
    return True


def _header_part(part: str, found: Header, *, allow_names: bool = True) -> str | None:
    """The kind of one piece of a header line, recording what it says in ``found``; None: not metadata."""
    if is_reading_time(part):
        return "time"
    if match := _BYLINE.match(part):
        names, org = _byline_names(match["names"])
        found.author = found.author or names
        found.org = found.org or match["org"] or org
        return "byline"
    if (match := _PREPARED.match(part)) and not _split_date(part):  # with a date: split first
        # "Prepared by the research desk": a report's byline. A team is no author; people are.
        if _BYLINE.match(f"By {match['who']}"):
            names, _ = _byline_names(match["who"])
            found.author = found.author or names
        return "byline"
    if who := sign_off(part):
        # "Analyst: Tomas Reinholt" in "Equity research | 6 November 2026 | Analyst: ...": read as
        # a mere name, the report's author was dropped with the line.
        found.author = found.author or who
        return "byline"
    if match := _PLACE_LINE.match(part):
        found.org = found.org or match["org"]
        return "place"
    if date := _dateline_date(part):
        if re.match(r"^\s*(?:last\s+)?updated\b", part, re.I):
            found.updated = found.updated or date
        else:
            found.date = found.date or date
        return "date"
    # "Version 4.2" over release notes is a heading, no outlet ("France 24" is one).
    if allow_names and len(part.split()) <= 4 and not SENTENCE_END.search(part) and part[:1].isupper():
        return None if re.search(r"\d\.\d", part) else "name"  # "Reuters", "World News": next to real metadata only
    return None


def _split_date(part: str) -> tuple[str, str] | None:
    """A header item and a date run together: what a byline and the date on the line below become
    once a reader has joined the two lines (a wrapped line in plain text, a soft break in Markdown,
    ``<br>`` in HTML, a manual break in Word). "By Maria Lindqvist December 1, 2026" → the byline and
    the date; a date first works too. The longest date piece wins, so weekday, time and "Updated"
    stay with the date (a surname that is also a date word, "Sun", goes with it: a known limit)."""
    cuts = [m.start() for m in re.finditer(r"\s+", part)]
    for cut in cuts:  # a trailing date, longest first
        head, tail = part[:cut].rstrip(" ,;"), part[cut:].strip()
        if head and _dateline_date(tail):
            return head, tail
    for cut in reversed(cuts):  # a leading date, longest first
        head, tail = part[:cut].strip().rstrip(","), part[cut:].strip(" ,;")
        if tail and _dateline_date(head):
            return head, tail
    return None


def _byline_names(names: str) -> tuple[str, str | None]:
    """ "Kevin Liptak and Maegan Vazquez, CNN" → the people, and the one-word organisation after them
    (a person's name has two words or more)."""
    names = " ".join(names.split()).strip(" ,.")
    head, sep, last = names.rpartition(",")
    if sep and head and len(last.split()) == 1:
        return head.strip(" ,"), last.strip()
    return names, None


def origin_publisher(text: str) -> str | None:
    """ "originally appeared in the X (XX), ..." → X."""
    match = _ORIGIN_NAME.search(text)
    return _tidy_name(match["name"]) if match else None


def copyright_notice(text: str) -> tuple[str | None, int | None]:
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
    name = RIGHTS.split(name)[0]
    name = re.sub(r"(?:\s+(?:of|and|&|for|the|de|du|la|del|all))+$", "", name.strip(" .,;"), flags=re.I)
    stripped = _CORPORATE.sub("", name).strip(" .,;&")
    name = stripped or name
    return name if 2 <= len(name) <= 80 else None


def credit_author(removed: list[str]) -> str | None:
    """ "Reporting by Jane Doe in Kyiv; Editing by ..." → Jane Doe (the wire reporter)."""
    for text in removed:
        match = re.match(
            r"^\(?\s*(?:additional\s+)?(?:reporting|writing)\s+by\s+(?P<names>[^;()]+?)"
            r"(?:\s+in\s+[A-Z][^;()]*)?\s*(?:[;)]|$)",
            text,
            re.I,
        )
        if match and not text.lower().lstrip("( ").startswith("additional"):
            names = match["names"].strip(" .,")
            if names and len(names) <= 80:
                return names
    return None


def wire_agency(first_paragraph: str) -> str | None:
    """Wire datelines: "KYIV, Jan 11 (Reuters) - ..." → Reuters."""
    match = _AGENCY.match(first_paragraph)
    return match["agency"].strip() if match else None


def wire_date(first_paragraph: str, *, today: dt.date | None = None) -> tuple[dt.date, str] | None:
    """A full date in a dateline: "WASHINGTON, Jan. 11, 2022 (AP) — ...". A wire's dateline gives
    no year ("SANTIAGO, Dec 2 (Reuters) - ..."): it is the latest such day up to ``today`` (when the
    story is indexed: wire copy is filed the day it is dated)."""
    head = re.split(r"\s[-–—]{1,2}\s", first_paragraph[:100], maxsplit=1)
    if len(head) < 2:
        return None
    found = find_date(head[0])
    if found and found[1] == "day":
        return found
    day = _WIRE_DAY.search(head[0]) if today and _AGENCY.match(first_paragraph) else None
    month = day and MONTHS.get(day["month"].lower().rstrip("."))
    if not (day and today and month):
        return None
    for year in range(today.year, today.year - 5, -1):  # "Feb 29": the latest year that had one
        try:
            date = dt.date(year, month, int(day["day"]))
        except ValueError:  # "Feb 29" in a year without it
            continue
        if date <= today + dt.timedelta(days=1):  # a day ahead: datelines are local time, ``today`` UTC
            return date, "day"
    return None


def title_date(title: str) -> tuple[dt.date, str] | None:
    """A full date that ends a title: "Editorial meeting minutes — 24 November 2026", "Minutes,
    2026-11-24". A team's notes carry their date there and nowhere else. A date inside a title
    ("The March 3, 2020 crash, a year on") names what it is about, not when it was written."""
    words = title.rstrip(" .)]").split()
    for n in (1, 2, 3, 4):
        found = find_date(" ".join(words[-n:]))
        if found and found[1] == "day":
            return found
    return None


def title_from_filename(name: str) -> str:
    stem = PurePosixPath(name).stem
    return " ".join(re.sub(r"[_]+|(?<=\w)-(?=\w)", " ", stem).split()) or name


def title_from_text(text: str, words: int = 10) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")
