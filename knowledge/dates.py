"""Time words in questions turned into what they ask of the documents' dates.

Two kinds, kept apart on purpose:

- *Time words* say when the reader wants news from, relative to the moment of asking: "this week",
  "yesterday", "on Wednesday", "over the weekend", "two days ago", "last month", "in the past 3
  days", "in recent days", "since March". They open a
  publication window (documents outside it are not evidence) and are taken out of the query.
  "latest", "recently", "currently", "so far", "upcoming", "next week", and "now" closing a question
  ("Who leads the party now?") or in "as of now", ask for a recency preference instead (newer first,
  no window): news about what is going on as the question is asked. "now" inside a question ("the
  area now known as Jacksonville") names no time.
- *Dates that name when something happened*: "investment in 2018", "the 2022 election", "in March
  2021", "on 2022-01-11", "before 2020". They are not a filter on publication date: an article
  published later that discusses the event is evidence, and usually the best there is. They stay in
  the query (the year is a word to match) and give only a mild ranking preference
  (``DateIntent.about_from``/``about_to``) for documents dated in, or just after, that period.

Pure functions: ``now`` is always passed in, so tests (and evaluation, where a question's own date
is "now") are deterministic.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, replace

from .errors import InvalidInput

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_WEEKDAY = "|".join(WEEKDAYS)
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
# A clause's auxiliary verbs: the last one before a day says whether it is a date or every such day.
_AUXILIARY = re.compile(r"\b(is|are|am|does|do|can|was|were|did|will|would|has|have|had)\b", re.I)
_PRESENT = {"is", "are", "am", "does", "do", "can"}


def _present_clause(text: str) -> bool:
    """Is the last clause of ``text`` in the present tense ("When is the library open")?"""
    verbs = _AUXILIARY.findall(re.split(r"[.!?;]", text)[-1])
    return bool(verbs) and verbs[-1].lower() in _PRESENT


def format_date(day: dt.date | None, precision: str = "day") -> str:
    """A document's date as precise as it is known, the one renderer for answers, briefings, the CLI,
    the console and the bot: only a copyright year gives "2022", not "2022-01-01"."""
    if day is None:
        return "undated"
    return {"year": str(day.year), "month": day.strftime("%Y-%m")}.get(precision, day.isoformat())


@dataclass(frozen=True)
class DateIntent:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    recency: bool = False  # "latest", "recent", "newest": prefer newer documents
    phrase: str = ""  # the words that set the window, as written ("this week")
    query: str = ""  # the question without those words
    # A period the question names as when something happened ("in 2018"): ranks, never filters.
    about_from: dt.date | None = None
    about_to: dt.date | None = None
    about_phrase: str = ""  # the words that name it, as written ("in August")

    @property
    def window(self) -> bool:
        return self.date_from is not None or self.date_to is not None

    def period_as_window(self) -> DateIntent:
        """The period named as when something happened, as the window: for a line that asks only
        what happened then ("What happened in August?"), where it can mean nothing else."""
        if not self.about_phrase:
            return self
        query = re.sub(r"\s+([?.!,])", r"\1", " ".join(self.query.replace(self.about_phrase, " ").split()))
        return replace(
            self, date_from=self.about_from, date_to=self.about_to, phrase=self.about_phrase, query=query or self.query
        )

    @property
    def time_words(self) -> bool:
        """Whether the question says when, relative to now, its news should be from."""
        return self.window or self.recency

    def describe(self) -> str:
        """The window in words for answers ("from 2022-03-01 to 2022-11-28")."""
        if self.date_from and self.date_to:
            if self.date_from == self.date_to:
                return f"on {self.date_from.isoformat()}"
            return f"from {self.date_from.isoformat()} to {self.date_to.isoformat()}"
        if self.date_from:
            return f"since {self.date_from.isoformat()}"
        if self.date_to:
            return f"up to {self.date_to.isoformat()}"
        return "most recent first" if self.recency else ""


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _last_month_named(month: int, today: dt.date) -> int:
    """The year of the most recent ``month`` not after today ("since March" in January means last March)."""
    return today.year if month <= today.month else today.year - 1


# After a time word, a lowercase word that is no preposition or conjunction makes it a modifier:
# "the weekend edition" names a thing, "the weekend in Paris" a time.
_NOT_MODIFIER = (
    r"(?!\s+(?!(?:in|at|on|for|to|and|or|but|with|of|from|by|when|after|before|near|across|around|as|so|while)\b)"
    r"[a-z])"
)


# Each rule: a pattern and a function of (match, today) -> (from, to, recency).
def _rules():
    def days(n_from: int, n_to: int = 0):
        return lambda m, t: (t - dt.timedelta(days=n_from), t - dt.timedelta(days=n_to), False)

    def week(offset: int):
        def f(m, t):
            start = t - dt.timedelta(days=t.weekday()) - dt.timedelta(weeks=offset)
            return start, (t if offset == 0 else start + dt.timedelta(days=6)), False

        return f

    def month(offset: int):
        def f(m, t):
            y, mo = t.year, t.month - offset
            while mo <= 0:
                y, mo = y - 1, mo + 12
            return dt.date(y, mo, 1), (t if offset == 0 else _month_end(y, mo)), False

        return f

    def year(offset: int):
        return lambda m, t: (
            dt.date(t.year - offset, 1, 1),
            t if offset == 0 else dt.date(t.year - offset, 12, 31),
            False,
        )

    def past_n(m, t):
        n = int(m.group("n"))
        unit = m.group("unit").lower()
        delta = {
            "day": dt.timedelta(days=n),
            "week": dt.timedelta(weeks=n),
            "month": dt.timedelta(days=30 * n),
            "year": dt.timedelta(days=365 * n),
        }[unit.rstrip("s")]
        return t - delta, t, False

    def month_year(m, t):
        mo, y = MONTHS[m.group("month").lower()], int(m.group("year"))
        return dt.date(y, mo, 1), _month_end(y, mo), False

    def in_month(m, t):
        mo = MONTHS[m.group("month").lower()]
        y = _last_month_named(mo, t)
        return dt.date(y, mo, 1), _month_end(y, mo), False

    def since_month_year(m, t):
        return dt.date(int(m.group("year")), MONTHS[m.group("month").lower()], 1), t, False

    def since_month(m, t):
        mo = MONTHS[m.group("month").lower()]
        return dt.date(_last_month_named(mo, t), mo, 1), t, False

    def since_day(m, t):
        # "since 2022-02-20", "since February 20": from that day up to now (an impossible day
        # opens nothing).
        if m.group("mm"):
            y, mo, d = int(m.group("year")), int(m.group("mm")), int(m.group("dd"))
        else:
            mo, d = MONTHS[m.group("month").lower()], int(m.group("d"))
            y = int(m.group("y2")) if m.group("y2") else _last_month_named(mo, t)
        try:
            return dt.date(y, mo, d), t, False
        except ValueError:
            return None

    def since_year(m, t):
        return dt.date(int(m.group("year")), 1, 1), t, False

    def before_year(m, t):
        return None, dt.date(int(m.group("year")) - 1, 12, 31), False

    def in_year(m, t):
        y = int(m.group("year"))
        return dt.date(y, 1, 1), dt.date(y, 12, 31), False

    def iso_day(m, t):
        try:
            d = dt.date(int(m.group("year")), int(m.group("mm")), int(m.group("dd")))
        except ValueError:  # "2022-02-30": no such day, so no window (the words stay in the query)
            return None
        return d, d, False

    def recency(m, t):
        return None, None, True

    def weekday(m, t):
        # "on Wednesday", "last Friday", "since Monday": the latest such day up to today, and since.
        # Not "When is the library open on Sunday?": "on <day>" after a present "is/does" is every
        # such day, not a date (the day stays in the query).
        if m.group(0).lower().startswith("on") and _present_clause(m.string[: m.start()]):
            return None
        day = WEEKDAYS[m.group("day").lower()]
        return t - dt.timedelta(days=(t.weekday() - day) % 7), t, False

    def weekend(m, t):
        return t - dt.timedelta(days=(t.weekday() - 5) % 7), t, False

    def ago(m, t):
        n = _NUMBER_WORDS.get(m.group("n").lower()) or int(m.group("n"))
        days = n * (7 if m.group("unit").lower().startswith("week") else 1)
        return t - dt.timedelta(days=days + 2), t, False

    def recent_n(m, t):
        span = {"day": 7, "week": 31, "month": 183}[m.group("unit").lower().rstrip("s")]
        return t - dt.timedelta(days=span), t, False

    b = r"\b"
    # (pattern, rule, kind): "window" time words, "about" dates of events, "recency" words.
    return [
        (
            rf"{b}since\s+(?:{_YEAR}-(?P<mm>\d\d)-(?P<dd>\d\d)|{_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?"
            rf"(?:,?\s+(?P<y2>(?:19|20)\d\d))?){b}",
            since_day,
            "window",
        ),
        (rf"{b}(?:on\s+)?{_YEAR}-(?P<mm>\d\d)-(?P<dd>\d\d){b}", iso_day, "about"),
        (rf"{b}since\s+{_MONTH}\s+{_YEAR}{b}", since_month_year, "window"),
        (rf"{b}(?:in|during|from|of)?\s*{_MONTH}\s+(?:of\s+)?{_YEAR}{b}", month_year, "about"),
        (rf"{b}since\s+{_MONTH}(?!\w){b}", since_month, "window"),
        (rf"{b}since\s+{_YEAR}(?!-\d){b}", since_year, "window"),
        (rf"{b}(?:before|prior to)\s+{_YEAR}{b}", before_year, "about"),
        (rf"{b}(?:in|during|from)\s+{_MONTH}(?!\w)", in_month, "about"),
        (rf"{b}{_MONTH}(?=\s+(?:news|stories|headlines|documents|reports){b})", in_month, "about"),
        (rf"{b}(?:in|during|of|from)\s+{_YEAR}{b}", in_year, "about"),
        (
            rf"{b}(?:in|over|during)?\s*the\s+(?:past|last)\s+(?P<n>\d{{1,3}})\s+(?P<unit>days?|weeks?|months?|years?){b}",
            past_n,
            "window",
        ),
        (rf"{b}(?:in|over|during)\s+(?:the\s+)?recent\s+(?P<unit>days|weeks|months){b}", recent_n, "window"),
        (rf"{b}(?:on|last|this|since|early|late)\s+(?P<day>{_WEEKDAY}){b}", weekday, "window"),
        # Not "the weekend edition": after a bare "the", a word that is no preposition makes it a
        # modifier ("this weekend sparked", "over the weekend brought" are times).
        (
            rf"{b}(?:(?:over|during)\s+(?:the|this|last)|this|last|the(?=\s+weekend{b}{_NOT_MODIFIER}))\s+weekend{b}",
            weekend,
            "window",
        ),
        (
            rf"{b}(?P<n>\d{{1,2}}|a|an|one|two|three|four|five|six|seven)\s+(?P<unit>days?|weeks?)\s+ago{b}",
            ago,
            "window",
        ),
        (rf"{b}(?:today|tonight|this\s+morning|this\s+afternoon|this\s+evening){b}", days(0), "window"),
        (rf"{b}yesterday{b}", days(1, 1), "window"),
        (rf"{b}this\s+week{b}", week(0), "window"),
        (rf"{b}(?:last|past)\s+week{b}", week(1), "window"),
        (rf"{b}this\s+month{b}", month(0), "window"),
        (rf"{b}(?:last|past)\s+month{b}", month(1), "window"),
        (rf"{b}this\s+year{b}", year(0), "window"),
        (rf"{b}last\s+year{b}", year(1), "window"),
        (
            rf"{b}(?:the\s+)?(?:latest|most\s+recent(?:ly)?|newest|recent(?:ly)?|lately|current(?:ly)?|right\s+now|(?:as\s+of|by|until|till)\s+now|now(?=\s*[?!.]*\s*$)|^\s*now\b"
            rf"|these\s+days|so\s+far|newly|upcoming|ongoing|next\s+(?:week|month)|this\s+season)"
            rf"(?:\s+news)?(?:\s+(?:on|about))?{b}",
            recency,
            "recency",
        ),
    ]


_COMPILED = [(re.compile(p, re.I), f, kind) for p, f, kind in _rules()]


def time_phrases(text: str) -> list[str]:
    """Every time phrase of ``text`` ("this week", "in November", "latest"), in reading order, as
    ``parse_date_intent`` finds them: what a follow-up ("and last week?") replaces."""
    found: list[tuple[int, str]] = []
    masked = text
    for pattern, _, _ in _COMPILED:
        for m in pattern.finditer(masked):
            if m.group(0).strip():
                found.append((m.start(), m.group(0).strip()))
                masked = masked[: m.start()] + "\0" * (m.end() - m.start()) + masked[m.end() :]
    return [phrase for _, phrase in sorted(found)]


def parse_date_intent(question: str, *, now: dt.datetime | dt.date) -> DateIntent:
    """What a question's time words ask of the documents' dates (module docstring). The first window
    rule that matches wins, and the first date of an event; recency words are noted in addition.
    Time words are removed from ``query``; dates of events stay in it."""
    today = now.date() if isinstance(now, dt.datetime) else now
    query = question
    date_from = date_to = about_from = about_to = None
    about_phrase = ""
    recency = False
    phrases: list[str] = []
    # Date words inside a quoted phrase are part of the phrase ("first increase since 2018").
    masked = re.sub(r"[\"“”][^\"“”]*[\"“”]", lambda m: "\0" * len(m.group(0)), query)
    for pattern, rule, kind in _COMPILED:
        m = pattern.search(masked)
        if not m:
            continue
        window = rule(m, today)
        if window is None:
            continue
        start, end, _ = window
        blank = " " * (m.end() - m.start())
        masked = masked[: m.start()] + blank + masked[m.end() :]
        if kind == "about":
            if about_from is None and about_to is None:
                about_from, about_to, about_phrase = start, end, question[m.start() : m.end()].strip()
            continue
        if kind == "recency":
            recency = True
        elif date_from is None and date_to is None:
            date_from, date_to = start, end
        else:
            continue
        phrases.append(m.group(0).strip())
        query = query[: m.start()] + blank + query[m.end() :]
    query = re.sub(r"\s+([?.!,])", r"\1", re.sub(r"\s{2,}", " ", query)).strip(" ,")
    return DateIntent(
        date_from=date_from,
        date_to=date_to,
        recency=recency,
        phrase=", ".join(phrases),
        query=query or question,
        about_from=about_from,
        about_to=about_to,
        about_phrase=about_phrase,
    )


# ---------------------------------------------------------------------------- "since" windows

DEFAULT_SINCE = dt.timedelta(hours=24)
# How far back a briefing may reach, the same for /brief, the console and `newsdesk brief`: a
# "briefing" of more than a year is the whole collection, not news.
BRIEFING_MAX_BACK = dt.timedelta(days=366)
# For `newsdesk log export`: far enough for any real window, and well inside what datetime can
# subtract from now.
MAX_BACK = dt.timedelta(days=365 * 100)
_DURATION = re.compile(r"\s*(\d{1,12})\s*(m|mins?|minutes?|h|hours?|d|days?|w|weeks?)\s*", re.IGNORECASE)
_UNITS = {
    "m": dt.timedelta(minutes=1),
    "h": dt.timedelta(hours=1),
    "d": dt.timedelta(days=1),
    "w": dt.timedelta(weeks=1),
}


def parse_since(
    text: str | None, now: dt.datetime, tz: dt.tzinfo = dt.UTC, *, max_back: dt.timedelta = BRIEFING_MAX_BACK
) -> dt.datetime:
    """The start of a "since" window, for ``newsdesk brief --since``, ``log export --since``, the
    console's ``brief`` and the bot's ``/brief since:``: empty is 24 hours ago; ``90m``, ``12h``,
    ``3 days``, ``1w``; an ISO date (midnight in ``tz``) or date and time (in ``tz`` unless it
    says). ``max_back`` caps how far back it may go. An ``InvalidInput`` (a ValueError too) with a
    message a user can act on otherwise: never an OverflowError for ``99999999999d``."""
    if text is None or not text.strip():
        return now - DEFAULT_SINCE
    limit = min(max_back, MAX_BACK)
    m = _DURATION.fullmatch(text)
    if m:
        amount, unit = int(m.group(1)), m.group(2)[0].lower()
        # Compared in units before building a timedelta: timedelta(days=99999999999) overflows.
        if amount > limit / _UNITS[unit]:
            raise InvalidInput(_too_far(limit))
        return now - amount * _UNITS[unit]
    value = text.strip()
    try:
        if len(value) == 10:
            start = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(0), tzinfo=tz)
        else:
            start = dt.datetime.fromisoformat(value)
            start = start if start.tzinfo else start.replace(tzinfo=tz)
    except ValueError:
        raise InvalidInput(f"cannot read the time {value[:40]!r}: use 12h, 3d, 1w or 2024-05-01") from None
    if start > now:
        raise InvalidInput("`since` is in the future")
    if now - start > limit:
        raise InvalidInput(_too_far(limit))
    return start


def _too_far(limit: dt.timedelta) -> str:
    if limit <= dt.timedelta(days=366):
        return "`since` can go back one year at most"
    return f"`since` can go back {limit.days // 365} years at most"
