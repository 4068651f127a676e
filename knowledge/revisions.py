"""What a later document says of the answer's figures: a plan moved, a toll revised. A team's
archive holds both the memo that set a date and the minutes that moved it; asked months later,
the answer quoted the memo alone. Pure functions over candidates (``sentences``) and dates."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

from .sentences import Candidate, said_in
from .text import STOPWORDS


def with_later_word(
    chosen: list[Candidate], ranked: Sequence[Candidate], dates: Mapping[int, dt.date | None]
) -> list[Candidate]:
    """The answer, and after it what a later document says of the figure it gives: a plan moved
    ("Harbor 2.0 will be generally available on 1 December", then the council's "move the
    general release from 1 December to 8 December"), a toll revised. The later sentence holds
    half the question's words or more, a figure of the answer's and one of its own. ``dates``:
    each passage's document date (None: undated, never later)."""
    first = chosen[0] if chosen else None
    since = dates.get(first.passage_id) if first else None
    # A year alone is shared by too much to tie two sentences ("In 2026 we grew revenue ...").
    known = {f for f in _figures(first.text) if not _YEAR.fullmatch(f)} if first else set()
    if since is None or not known:
        return chosen
    for c in ranked:
        when, figures = dates.get(c.passage_id), _figures(c.text)
        if when is not None and when > since and c.coverage >= 0.5 and known & figures and figures - known:
            return chosen if said_in(c.text, [o.text for o in chosen]) else [*chosen, c]
    return chosen


def _figures(text: str) -> set[str]:
    """A text's figures with the word after each, unless a stopword ("1 december", "2,500 troops",
    "2.0" of "2.0 is")."""
    out = set()
    for m in _FIGURE.finditer(text):
        unit = (m["unit"] or "").lower()
        out.add(f"{m['n']} {unit}" if unit and unit not in STOPWORDS else m["n"])
    return out


_YEAR = re.compile(r"(?:19|20)\d\d")
_FIGURE = re.compile(r"\b(?P<n>\d(?:[\d,.]*\d)?)\b(?:\s+(?P<unit>[A-Za-z]+))?")
