"""Amounts a question asks for, told apart where a number is not any number: a sum of money ("How
much did it cost?": "40 turbines" is no price), a change ("How much will fees rise?": "by 9
percent"), a span of time ("How long does installation take?": "13.5 kWh" is none), a frequency
("How often ...?": "every 90 days"). Pure functions over text (``signals.answer_kind`` reads them)."""

from __future__ import annotations

import re

# "How much did it cost?", "How much is the toll?": the number asked for is a sum of money, and
# "40 turbines" or "for 15 years" is no answer.
_MONEY_ASKED = re.compile(
    r"\bhow much\b(?:(?!\?).)*?\b(?:cost|costs|costing|pay|pays|paid|paying|spend|spends|spent|spending|worth|"
    r"price|priced|charge|charges|charged|fund|funded|invest|invests|invested|sell|sells|sold|raise|raised|earn|"
    r"earns|earned|owe|owes|owed|fine|fined|budget|budgeted|money|revenue|profit|salary|wage|wages|save|saves|"
    r"saved|saving|savings|fee|fees|toll|tolls|fare|fares|rent|rents|tax|taxes|ticket|tickets|bid|bids|offer|"
    r"subscription|deposit|loan|loans|grant|bonus|pension|refund|refunded|compensation)\b|"
    r"\bwhat (?:was |is |will be )?(?:the )?(?:price|cost|sum|fee|fine|salary|toll|fare|rent|bid)\b",
    re.I,
)
CURRENCY = re.compile(
    r"[$€£¥₹]|\b(?:euros?|dollars?|pounds?|sterling|yen|yuan|renminbi|rupees?|francs?|kronor|kroner|krona|crowns?|"
    r"zlotys?|forints?|rubles?|"
    r"roubles?|pesos?|reais|lira|shekels?|dirhams?|riyals?|rand|usd|eur|gbp|chf|jpy|cny)\b",
    re.I,
)


# "How much will fees rise?": a change, given as a share as often as a sum.
_CHANGE_ASKED = re.compile(
    r"\bhow much\b(?:(?!\?).)*?\b(?:rise|rises|rose|risen|rising|increase|increases|increased|grow|grows|grew|"
    r"grown|fall|falls|fell|fallen|drop|drops|dropped|decline|declines|declined|climb|climbs|climbed|jump|jumps|"
    r"jumped|cut|cuts|go up|goes up|went up|gone up|go down|went down|change|changes|changed)\b",
    re.I,
)
SHARE = re.compile(r"\d\s?%|\bper\s?cent\b|\bpercentage points?\b", re.I)


def change_asked(question: str) -> bool:
    return bool(_CHANGE_ASKED.search(question))


def money_asked(question: str) -> bool:
    """Whether a "how much" question asks for a sum of money ("how much did the wind farm cost?")."""
    return bool(_MONEY_ASKED.search(question))


# "How long does installation take?", "How long has she been chief executive?": a span of time,
# which "13.5 kWh" or "2026" is not. ("How long is the bridge?" asks a length: a number.)
_DURATION_ASKED = re.compile(
    r"\bhow long\s+(?:does|did|do|will|would|has|have|had|can|could|should|must|might|is\s+it|was\s+it)\b|"
    r"\bhow long\b(?:(?!\?).)*?\b(?:take|takes|took|taken|last|lasts|lasted|wait|stay|stays|stayed|"
    r"remain|remains|remained|continue|continues|continued|been|ago)\b",
    re.I,
)
_UNITS = r"(?:seconds?|minutes?|mins?|hours?|hrs?|days?|nights?|weeks?|months?|years?|decades?|centur(?:y|ies))"
# "every 5 minutes" is how often, not how long ("How long did the outage last?").
_DURATION = re.compile(
    rf"(?<!\bevery )(?<!\beach )\b(?P<n>\d[\d,.]*|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    rf"thirty|forty|fifty|sixty|hundred|several|few|couple\s+of|half\s+an?|many)[\s-]+(?:more\s+)?{_UNITS}\b|"
    r"\bsince\s+(?P<since>\d{4}|(?-i:[A-Z])\w+)",
    re.I,
)


def duration_asked(question: str) -> bool:
    """Whether a "how long" question asks for a span of time ("how long does installation take?")."""
    return bool(_DURATION_ASKED.search(question))


# "How often should the credentials be rotated?": a frequency ("every 90 days", "twice a year",
# "weekly"), which "Last reviewed: 2 October 2026" holds no more than a span of time does.
_FREQUENCY_ASKED = re.compile(r"\bhow (?:often|frequently)\b", re.I)
_FREQUENCY = re.compile(
    rf"\b(?:every|each|per)\s+(?:[\d,.]+\s+|other\s+|few\s+|couple\s+of\s+)?(?:{_UNITS}|fortnights?|quarters?)|"
    r"\b(?:hourly|daily|nightly|weekly|fortnightly|monthly|quarterly|annually|yearly|once|twice|thrice)\b|"
    r"\b(?:\d+|two|three|four|five|six|seven|eight|nine|ten|several|many)\s+times\b",
    re.I,
)


def frequency_asked(question: str) -> bool:
    return bool(_FREQUENCY_ASKED.search(question))


def has_frequency(sentence: str) -> bool:
    return bool(_FREQUENCY.search(sentence))


def has_duration(sentence: str, question: str) -> bool:
    """A span of time ("under four hours", "a 12-year warranty", "since 2019") the question lacks."""
    asked = question.lower()
    return any(
        (m["n"] or "").lower() in ("a", "an")
        or not re.search(rf"\b{re.escape((m['n'] or m['since']).lower())}\b", asked)
        for m in _DURATION.finditer(sentence)
    )
