"""The answer's signals, computed from text alone: the question's specific words (names, numbers,
years) and whether what we would quote holds them, the kind of answer asked for, and time.
``sentences`` uses them to choose the answer sentence, ``answerability`` to decide whether the
documents answer at all. None is relative to the collection."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping

from .dates import MONTHS
from .measures import (
    CURRENCY,
    SHARE,
    change_asked,
    duration_asked,
    frequency_asked,
    has_duration,
    has_frequency,
    money_asked,
)
from .termweights import ABBREVIATIONS, abbreviated, acronyms, is_common_word, match_stem
from .text import STOPWORDS, TABLE_ROW, content_words, fold_accents, is_data_row, stem

# ---------------------------------------------------------------------------- specific words


_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_CAPITALISED = re.compile(r"[A-Z][\w'’-]*")
_WORD = re.compile(r"[\w'’-]+")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
# Capitalised words that are grammar, not names ("What", "This", "In").
_NOT_NAMES = STOPWORDS | {
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "this",
    "these",
    "that",
    "those",
    "according",
    "after",
    "before",
    "during",
    "in",
    "on",
    "at",
    "for",
    "the",
    "a",
    "an",
    "name",
    "true",
    "false",
    "fill",
    "blank",
    "following",
    "mr",
    "mrs",
    "ms",
    "dr",
}


def _norm_number(token: str) -> str:
    return token.replace(",", "").rstrip(".")


def _word_key(word: str) -> str:
    # Without accents, as the index: "Peric" names "Perić".
    return stem(fold_accents(word.lower().strip("'’-").removesuffix("'s").removesuffix("’s")))


def specific_terms(question: str) -> set[str]:
    """The question's specific words: numbers (years included) and the words of proper names,
    lowercased and stemmed (numbers without thousands separators). A capitalised first word
    counts only when the next word is capitalised too ("Joe Biden said ..."): alone it is usually
    just the sentence start ("Which ...")."""
    out = {_norm_number(m.group(0)) for m in _NUMBER.finditer(question)}
    tokens = list(_WORD.finditer(question))
    for i, m in enumerate(tokens):
        word = m.group(0)
        if not _CAPITALISED.fullmatch(word) or word.lower() in _NOT_NAMES:
            continue
        if i == 0 and not (len(tokens) > 1 and _CAPITALISED.fullmatch(tokens[1].group(0))):
            continue
        out.add(_word_key(word))
    return {t for t in out if t}


_NAME_RUN = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")


def name_phrases(text: str) -> list[str]:
    """Runs of capitalised words ("Kassym-Jomart Tokayev", "New York City"), stopwords dropped; a
    lone capitalised first word is left out (it is usually just the sentence start)."""
    names = []
    for m in _NAME_RUN.finditer(text):
        words = [w for w in m.group(0).split() if w.lower() not in STOPWORDS]
        if m.start() == 0 and words and len(m.group(0).split()) == 1:
            continue
        if words:
            names.append(" ".join(words))
    return names


def asked_sentence(question: str) -> str:
    """The sentence that asks: a news quiz puts context first ("Parades are a Thanksgiving
    tradition. Where was the first parade?"), and the names that matter are in the question."""
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", question) if p.strip()]
    asking = [p for p in parts if p.endswith("?")]
    return (asking or parts or [question])[-1]


def names_absent(question: str, keys: set[str]) -> float:
    """Share of the names of the asked sentence of which no word is among ``keys`` (the words of
    every passage read): "How many troops did Belarus send?" over documents that never name
    Belarus. A name of which any word is there ("Kathleen Corradi", "Corradi") counts as found."""
    names = [{_word_key(w) for w in _WORD.findall(n)} for n in name_phrases(asked_sentence(question))]
    names = [n for n in names if n]
    if not names:
        return 0.0
    return sum(1 for n in names if not n & keys) / len(names)


def text_keys(text: str) -> set[str]:
    """The keys ``specific_terms`` are matched against: every word's stem and every number."""
    keys = {_word_key(w) for w in _WORD.findall(text)}
    keys.update(_norm_number(m.group(0)) for m in _NUMBER.finditer(text))
    return keys | abbreviated(text, keys)  # "CEO" is there where it says "chief executive"


def missing_share(terms: set[str], keys: set[str]) -> float:
    """Share of ``terms`` not among ``keys``; 0 when there are no terms (nothing to miss)."""
    if not terms:
        return 0.0
    return sum(1 for t in terms if t not in keys) / len(terms)


def weighted_missing_share(terms: set[str], keys: set[str], weights: Mapping[str, float]) -> float:
    """``missing_share`` with each term weighted by its IDF (``weights``; terms the question's
    weights lack count as rare): missing "Kuechly" matters, missing "US" hardly."""
    if not terms:
        return 0.0
    top = max(weights.values(), default=1.0)
    w = {t: weights.get(t, top) for t in terms}
    return math.fsum(v for t, v in w.items() if t not in keys) / math.fsum(w.values())


def bigrams(text: str) -> set[tuple[str, str]]:
    """Pairs of neighbouring content words (stemmed), stopwords skipped."""
    stems_ = [stem(fold_accents(w)) for w in content_words(text)]
    return set(zip(stems_, stems_[1:], strict=False))


def bigram_coverage(question: str, text: str) -> float:
    """Share of the question's neighbouring word pairs that ``text`` holds as neighbours too: a
    near miss shares the question's topic words, less often its phrases. 1 when the question has
    no pair."""
    asked = bigrams(question)
    if not asked:
        return 1.0
    return len(asked & bigrams(text)) / len(asked)


# ---------------------------------------------------------------------------- answer type

_NAME_NOUNS = (
    r"person|man|woman|people|artist|singer|rapper|musician|band|actor|actress|player|athlete|star|"
    r"author|writer|leader|politician|lawmaker|senator|governor|president|prime minister|ceo|founder|"
    r"official|judge|justice|candidate|company|companies|firm|brand|team|club|organization|group|"
    r"country|countries|nation|state|city|town|region|province|island|continent|capital|place|"
    r"network|airline|retailer|automaker|agency|university|school|party|league|film|movie|show|song|album|book"
)
_EXPANSION_ASKED = re.compile(
    r"^\W*(?i:what\s+(?:is|are|was|were|does)\s+(?:the\s+)?)(?P<initials>[A-Z]{2,6})(?i:\s+stand\s+for)?\W*$"
)
ANSWER_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # "What's the phone number of the library?": a telephone number, an e-mail or web address. It
    # was a "number", and the FAQ's "January 2024" answered it.
    (
        "contact",
        re.compile(
            r"\b(?:tele)?phone number (?:of|for)\b|"
            r"\b(?:what(?:'s|’s| is| are)|give me|find) (?:the |their |his |her |its )?(?:tele)?phone numbers?\b|"
            r"\be-?mail(?: address)? (?:of|for)\b|"
            r"\bwhat(?:'s|’s| is) (?:the |their |his |her |its )?e-?mail(?: address)?(?= (?:of|for)\b|\s*[?.!]*\s*$)|"
            r"\b(?:website|web address|url|homepage) (?:of|for)\b|\bcontact details\b",
            re.I,
        ),
    ),
    # "What is the CSTO?": what its initials stand for, which news spells out once ("the Collective
    # Security Treaty Organisation (CSTO)"); a sentence that only writes "CSTO" was quoted first.
    ("expansion", _EXPANSION_ASKED),
    (
        "number",
        re.compile(
            r"\bhow (?:many|much|long|old|far|big|tall|high|often|fast)\b|"
            r"\bwhat (?:percentage|percent|number|amount|share|fraction)\b|"
            r"\b(?:the )?(?:number|amount|percentage) of\b",
            re.I,
        ),
    ),
    ("date", re.compile(r"\bwhen\b|\b(?:what|which|in what) (?:year|date|day|month|decade)\b", re.I)),
    (
        "name",
        re.compile(
            rf"\bwho(?:m|se)?\b|\bwhere\b|\b(?:which|what|this|these|whose)\s+(?:\w+\s+)?(?:{_NAME_NOUNS})\b", re.I
        ),
    ),
)


def answer_kind(question: str) -> str | None:
    """``answer_type``, told apart further where a number is not any number: a sum of money for
    "How much did it cost?" ("40 turbines" is no price), a span of time for "How long does
    installation take?" ("13.5 kWh" is none), a frequency for "How often ...?"."""
    if frequency_asked(question):
        return "frequency"
    kind = answer_type(question)
    if kind == "number" and money_asked(question):
        return "money"
    if kind == "number" and duration_asked(question):
        return "duration"
    return kind


_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion trillion dozen dozens half percent first second third fourth fifth".split()
)
_COUNT_WORDS = _NUMBER_WORDS - {"first", "second", "third", "fourth", "fifth"}  # "the first to ..." counts nothing


def answer_type(question: str) -> str | None:
    """What kind of thing the question asks for: ``contact`` (a telephone number, an e-mail or web
    address), ``number``, ``date``, ``name`` (a person, place or organisation: without a tagger
    they look alike) or None when it cannot be told."""
    for kind, pattern in ANSWER_TYPES:
        if pattern.search(question):
            return kind
    return None


# An e-mail address, a web address, a telephone number (six digits or more, spaced as people do),
# each for the question that names it; "contact details" take any of them.
_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_WEB = r"\bhttps?://\S+|\bwww\.[\w-]+\.\w+"
_PHONE = r"(?<![\w.,])(?!\d{4}-\d\d-\d\d\b)\+?\(?\d(?:[\d \t().-]*\d){5,}(?![\w.,]\d)"
_CONTACTS = (
    (re.compile(r"\bphone\b", re.I), re.compile(_PHONE)),
    (re.compile(r"\be-?mail\b", re.I), re.compile(_EMAIL)),
    (re.compile(r"\b(?:website|web address|url|homepage)\b", re.I), re.compile(_WEB)),
)
_CONTACT = re.compile(f"{_EMAIL}|{_WEB}|{_PHONE}")
_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_DAY_WORDS = _WEEKDAYS | {"yesterday", "today", "tomorrow", "tonight"}


def has_answer_of_type(kind: str | None, sentences: Iterable[str], question: str) -> bool:
    """Whether the sentences hold something of ``kind`` that the question itself does not (an
    answer is new information: "Who won?" is not answered by a sentence naming only the question's
    own names). A name is a capitalised word that is not a month or a weekday ("If shareholders
    approve ... in June" names nobody) and does not open its sentence, unless it is a name there
    too (``_opens_with_name``); a number is digits or a count word; a date a year, a month, a weekday or yesterday/today/tomorrow; ``money`` a number in a
    sentence naming a currency; ``contact`` an e-mail or web address or a telephone number. True
    when ``kind`` is None."""
    if kind is None:
        return True
    if kind == "expansion":
        asked_initials = _EXPANSION_ASKED.match(question)
        return bool(asked_initials) and any(asked_initials["initials"].lower() in acronyms(s) for s in sentences)
    if kind == "contact":
        asked_for = next((found for named, found in _CONTACTS if named.search(question)), _CONTACT)
        return any(asked_for.search(sentence) for sentence in sentences)
    if kind == "duration":
        return any(has_duration(sentence, question) for sentence in sentences)
    if kind == "frequency":
        return any(has_frequency(sentence) for sentence in sentences)
    asked = text_keys(question) | {w.lower() for w in _WORD.findall(question)}
    if kind == "money":
        # A number in a sentence that names a currency ("1.2 billion euros", "$44bn"); for how much
        # a sum changes, a share too: "How much will grid fees rise?" is answered by "by 9
        # percent", and the strike price in kroner came first.
        change = change_asked(question)
        return any(
            (CURRENCY.search(sentence) or change and SHARE.search(sentence))
            and any(
                (any(c.isdigit() for c in token) or token.lower() in _COUNT_WORDS) and token.lower() not in asked
                for token in _WORD.findall(sentence)
            )
            for sentence in sentences
        )
    for sentence in sentences:
        tokens = _WORD.findall(sentence)
        for i, token in enumerate(tokens):
            low = token.lower()
            if low in asked or _word_key(token) in asked:
                continue
            if kind == "number" and (_NUMBER.fullmatch(token) or low in _COUNT_WORDS):
                return True
            if kind == "date" and (_YEAR.fullmatch(token) or low in MONTHS or low in _DAY_WORDS):
                return True
            if (
                kind == "name"
                and (i > 0 or _opens_with_name(tokens))
                and _CAPITALISED.fullmatch(token)
                and low not in _NOT_NAMES
                and low not in MONTHS
                and low not in _WEEKDAYS
            ):
                return True
    return False


def _opens_with_name(tokens: list[str]) -> bool:
    """Whether a sentence's capitalised first word is a name, not just its first word: the next
    word is capitalised too ("Lars Holm said"), or it is no common English word ("Tokayev said",
    "Maria will lead the project")."""
    if len(tokens) < 2 or not _CAPITALISED.fullmatch(tokens[0]) or tokens[0].lower() in _NOT_NAMES:
        return False
    return bool(_CAPITALISED.fullmatch(tokens[1])) or not is_common_word(tokens[0])


_HOW_MANY = re.compile(r"\bhow (?:many|much)\s+((?:[\w'’-]+\s+){0,2}[\w'’-]+)", re.I)


def has_quantity(question: str, sentences: Iterable[str], *, window: int = 4) -> bool:
    """For "how many X?" ("how many criminal charges"): whether a number stands within ``window``
    words before one of X's words in the sentences ("34 felony criminal charges"); a sentence
    about X without a count does not answer. True for other questions."""
    m = _HOW_MANY.search(question)
    if not m:
        return True
    wanted = {_word_key(w) for w in m.group(1).split() if w.lower() not in STOPWORDS}
    if not wanted:
        return True
    for sentence in sentences:
        tokens = _WORD.findall(sentence)
        # A table's row gives its count in another cell: "Metric: Customers; Q3 2026: 12,400".
        row = bool(TABLE_ROW.match(sentence)) or is_data_row(sentence)
        for i, token in enumerate(tokens):
            near = tokens if row else tokens[max(0, i - window) : i]
            if _word_key(token) in wanted and any(_NUMBER.fullmatch(t) or t.lower() in _COUNT_WORDS for t in near):
                return True
    return False


def count_held(question: str, sentences: Iterable[str]) -> bool:
    """ "How many fans attended?" and "in front of 19,400 fans": the count asked for is there, next
    to what it counts, whatever else of the question the sentences lack."""
    return bool(_HOW_MANY_ONLY.search(question)) and has_quantity(question, sentences)


_HOW_MANY_ONLY = re.compile(r"\bhow many\b", re.I)


# "Who is the CEO of Helvia?", "Who is Helvia's CEO?": the name asked for is the one the role is
# given to.
_ROLE_ASKED = re.compile(
    r"^\W*who\s+(?:is|was|are|were|will\s+be|has\s+been|became|becomes)\s+(?:now\s+)?(?:the\s+|a\s+|an\s+)?"
    r"(?:new\s+|current\s+|former\s+|next\s+|first\s+|last\s+|final\s+)?"
    r"(?:(?-i:[A-Z])[\w.&-]*(?:['’]s?)?\s+){0,3}"  # "Who is Aldwyn's CEO?", "Who is Aldwyn CEO?"
    r"(?P<role>ceo|cfo|coo|cto|pm|chief executive|chief|president|prime minister|chancellor|minister|secretary|"
    r"director|head|leader|founder|chair(?:man|woman|person)?|governor|mayor|coach|manager|captain|editor|"
    # Not "Who is President Tokayev?": a name after the role is who is asked about.
    r"spokes(?:man|woman|person)|ambassador|commissioner|owner)\b(?!\s+(?-i:[A-Z]))",
    re.I,
)


def role_asked(question: str) -> str | None:
    """The role a "who is the ROLE of ...?" question asks the holder of ("ceo", "prime minister")."""
    m = _ROLE_ASKED.search(question)
    return m["role"].lower() if m else None


def has_named_role(role: str, sentence: str, question: str, *, window: int = 4, loose: bool = False) -> bool:
    """Whether a name the question lacks stands within ``window`` words of the role in the sentence
    ("Chief executive Anna Keller said", "Tokayev, the president"): "Helvia shares rose in Zurich"
    names a place, no chief executive. The role's initials count both ways ("CEO"). ``loose`` (for a
    refusal): a word the role begins or the verb it names counts as the role (``_held_role``)."""
    spellings = {role, *([ABBREVIATIONS[role]] if role in ABBREVIATIONS else [])}
    spellings |= {k for k, v in ABBREVIATIONS.items() if v == role}
    wanted = [[_word_key(w) for w in spelling.split()] for spelling in spellings]
    asked = text_keys(question)
    tokens = _WORD.findall(sentence)
    keys = [_word_key(t) for t in tokens]
    for i in range(len(tokens)):
        for words in wanted:
            found = keys[i : i + len(words)]
            if found != words and not (loose and len(words) == 1 and _held_role(tokens[i], words[0])):
                continue
            near = range(max(0, i - window), min(len(tokens), i + len(words) + window))
            if any(
                j not in range(i, i + len(words))
                and (j > 0 or _opens_with_name(tokens))
                and _CAPITALISED.fullmatch(tokens[j])
                and tokens[j].lower() not in _NOT_NAMES
                and keys[j] not in asked
                for j in near
            ):
                return True
    return False


def _held_role(token: str, role: str) -> bool:
    """``token`` says the role loosely: a word it begins ("leadership" for "leader"), or a form of
    the verb it names ("led" for "leader", "founded" for "founder", "chaired" for "chair")."""
    verb = re.sub(r"(?:er|or)$", "", role)
    word = token.lower()
    # Porter's stem and the irregular form's base both: "founded" is "found", "led" is "lead".
    return _word_key(token).startswith(role) or bool({stem(word), match_stem(word)} & {stem(role), stem(verb)})


# ---------------------------------------------------------------------------- time


def age_of(published: dt.date | None, today: dt.date) -> float:
    """How far a document's date is from the day the question is asked, in either direction, on a
    log scale: 0 the same day, 0.5 about 18 days, 1 a year or more. Undated documents: 0 (no
    evidence either way)."""
    if published is None:
        return 0.0
    days = abs((today - published).days)
    return min(1.0, math.log1p(days) / math.log1p(365))


def year_mismatch(question: str, passage_text: str, published: dt.date | None) -> float:
    """1 when the question names years and the passage neither mentions one of them nor is dated in
    one of them (or the year after, when a year is usually looked back on); else 0."""
    years = {int(y) for y in _YEAR.findall(question)}
    if not years:
        return 0.0
    if any(str(y) in passage_text for y in years):
        return 0.0
    if published is not None and (published.year in years or published.year - 1 in years):
        return 0.0
    return 1.0
