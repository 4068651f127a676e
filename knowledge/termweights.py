"""How much a word of a question tells, the same in every collection.

The refusal decision and the choice of answer sentence weigh the question's words: missing
"Tokayev" matters, missing "said" hardly. BM25's IDF would do, but it is relative to the
collection: in a collection of one document every word of that document is "common" and every
other word "unknown", so a decision built on it means something else at 1 document than at
1,000,000 (issue 16). These weights come from general-English word frequencies instead
(``wordfreq``'s list, installed with the package: nothing is downloaded), so "does this sentence hold
what the question asks?" reads the same whatever else is indexed.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from .text import fold_accents, stem, words

# Zipf frequency is log10 of a word's frequency per billion words: "the" 7.7, "president" 5.5,
# "Kazakhstan" 3.6, a name the list does not know 0. A weight of CEILING - Zipf gives "the" a
# floor, "president" 2.5, "Kazakhstan" 4.4 and an unknown name 8.
CEILING = 8.0
FLOOR = 0.25
# A number in a question ("2,500 troops", "in 2018") is as specific as a rare name.
NUMBER_WEIGHT = 6.0


@lru_cache(maxsize=1)
def _zipf():
    # Lazy: importing wordfreq and reading its English list take about a second (done once, in
    # the worker thread of the first question, or at start-up by ``warm``).
    from wordfreq import zipf_frequency

    return zipf_frequency


@lru_cache(maxsize=200_000)
def word_weight(word: str) -> float:
    """The weight of one word (any case): rarer in general English, heavier."""
    word = word.lower()
    if any(c.isdigit() for c in word):
        return NUMBER_WEIGHT
    return max(FLOOR, CEILING - _zipf()(word, "en"))


def is_known(word: str) -> bool:
    """A number, or a word general English has at all (a rare one, a known name)."""
    return any(c.isdigit() for c in word) or _zipf()(word.lower(), "en") > 0


TYPO_RATIO = 0.8  # difflib's similarity at which two words are one misspelt: "tokaev" / "tokayev" 0.92


def nothing_to_match(line: str, texts: Iterable[str]) -> bool:
    """Whether no word of ``line`` means anything here: none is a number or an English word (a
    question word, a stopword, a known name), and none is one of the ``texts``' words or a
    misspelling of one: a keyboard mash ("qwertyuiop"). The dense cosine of such a line with any
    passage is noise, not meaning (0.2-0.3 with news here). A question about an unknown word
    ("Cypiddids are not what?") has English words around it and is not one."""
    tokens = words(line)
    if not tokens or any(is_known(t) for t in tokens):
        return False
    vocabulary = {w for text in texts for w in words(text)}
    return not any(difflib.get_close_matches(token, vocabulary, n=1, cutoff=TYPO_RATIO) for token in tokens)


_SPELLED = re.compile(r"\w+(?:['’]\w+)*")
_POSSESSIVE = re.compile(r"['’]s$")


def respelled(line: str, texts: Iterable[str]) -> tuple[str, list[tuple[str, str]]]:
    """``line`` with each word of it that neither general English nor ``texts`` knows replaced by
    the word of ``texts`` it misspells ("Helvai" by "Helvia": difflib's ratio ``TYPO_RATIO`` or
    more, four letters at least), and the (typed, read) pairs. A name no passage read holds is
    searched by its meaning alone, and refused."""
    unknown = [
        typed
        for typed in dict.fromkeys(_SPELLED.findall(line))
        if len(typed) >= 4 and not any(c.isdigit() for c in typed) and not is_known(typed)
    ]
    if not unknown:  # nearly every question: nothing to read the passages for
        return line, []
    vocabulary: dict[str, str] = {}
    for text in texts:
        for word in _SPELLED.findall(text):
            vocabulary.setdefault(word.lower(), word)
    pairs: list[tuple[str, str]] = []
    for typed in unknown:
        # A possessive is read apart: "Kestrel's" is Kestrel's name, no misspelling of "Kestrel",
        # and "Kestral's" is "Kestrel's".
        low = typed.lower()
        base = _POSSESSIVE.sub("", low)
        if low in vocabulary or base in vocabulary:
            continue
        close = difflib.get_close_matches(base, sorted(vocabulary), n=1, cutoff=TYPO_RATIO)
        if close:
            pairs.append((typed, vocabulary[close[0]] + typed[len(base) :]))
    for typed, read in pairs:
        line = re.sub(rf"(?<!\w){re.escape(typed)}(?!\w)", read, line)
    return line, pairs


def warm() -> None:
    """Load the frequency list and the lemma tables now (start-up), not during the first question."""
    word_weight("newsdesk")
    match_stem("kept")


@lru_cache(maxsize=1)
def _lemmas():
    # Lazy, as the frequency list: the first use reads lemminflect's tables (~0.1 s, ~45 MB).
    from lemminflect import getAllLemmas, getInflection

    return getAllLemmas, getInflection


@lru_cache(maxsize=200_000)
def match_stem(word: str) -> str:
    """The stem a question's word and a sentence's word meet on: Porter's, after an irregular form
    is brought to its base ("kept" meets "keep", "won" "win", "died" "die", "children" "child";
    Porter leaves each pair apart). A verb's past is read as the past, whatever else it may be
    ("fell" is "fall" rather than a hill, "found" "find": "founded" stays Porter's "found"); any
    other word with two readings stays as it is ("data"). Not the index's tokens: those are
    Porter's alone, in SQLite and PostgreSQL. Accents go, as in the index: "Gdansk" is
    "Gdańsk"."""
    word = fold_accents(word.lower())
    found = _lemmas()[0](word)
    pasts = [v for v in _past_of(word, found) if v != word]
    if pasts:
        base = stem(pasts[0])
    else:
        readings = [lemma for forms in found.values() for lemma in forms]
        base = stem(readings[0]) if len(readings) == 1 and readings[0] != word else stem(word)
    return _same_sense().get(base, base)


# Words news uses for one toll or one result, which no stemmer joins: "Was anyone killed?" is
# answered by "No deaths have been reported", "How many were injured?" by "40 injuries", "Who won?"
# by "Rovers beat Castlefield", "How much does it cost in Germany?" by a price list's "Price: 8,400
# euros". Each word meets the first of its family; the BM25 side searches them all
# (``retrieval.search_words``).
SAME_SENSE = (
    ("die", "killed", "death", "dead", "fatal", "dying"),
    ("injured", "injury", "wounded"),
    ("win", "won", "beat", "beaten", "defeated", "victory"),
    ("cost", "price", "priced"),
    # A verb and the noun made from it, which Porter leaves apart: "Who attended?" is answered by
    # minutes' "Attendees: ...", "How many people does it employ?" by "1,100 employees". Not
    # "decide" / "decision": "Who decides how land is used?" (xquad-en) met a court's "its
    # decision" and lost its answer.
    ("attend", "attendee", "attendance"),
    ("employ", "employee", "employment"),
    ("absent", "absence"),
)


@lru_cache(maxsize=1)
def _same_sense() -> dict[str, str]:
    # Lazy, as the stemmer it needs: Porter's stem of each word, to its family's first.
    return {stem(word): stem(family[0]) for family in SAME_SENSE for word in family}


def same_sense(term: str) -> tuple[str, ...]:
    """The words of ``term``'s family (``SAME_SENSE``), or none."""
    key = match_stem(term)
    return next((family for family in SAME_SENSE if stem(family[0]) == key), ())


def _past_of(word: str, found: Mapping[str, Iterable[str]]) -> list[str]:
    """The verbs (in sorted order) whose past or past participle ``word`` (lowercase) is, of its
    lemmas ``found`` (looked up once by the caller)."""
    inflect = _lemmas()[1]
    return sorted(v for v in found.get("VERB", ()) if word in inflect(v, "VBD") + inflect(v, "VBN"))


@lru_cache(maxsize=20_000)
def is_past(word: str) -> bool:
    """Whether ``word`` is a verb's past or past participle ("died", "beat", "was", "arrested")."""
    low = word.lower()
    return bool(_past_of(low, _lemmas()[0](low)))


def is_common_word(word: str) -> bool:
    """Whether a word is in English's dictionary as a noun, verb, adjective or adverb ("Experts",
    "Average"), not only a name ("Maria", "Tokayev", "Rotterdam")."""
    return bool(_lemmas()[0](word.lower()))


def stem_weights(terms: Iterable[str]) -> dict[str, float]:
    """Weights keyed by stem (what sentences are matched on), for a question's content words; a
    stem reached from several words takes the heaviest. Keys in sorted order, so every sum and
    tie-break over them is the same in every process (no dependence on the hash seed)."""
    out: dict[str, float] = {}
    for term in terms:
        key = match_stem(term)
        out[key] = max(out.get(key, 0.0), word_weight(term))
    return dict(sorted(out.items()))


# What a word may add to another and still be the same word for an answer: the stemmer leaves
# "formed" as "form" but "formation" as "format", "Kazakh" as "kazakh" but "Kazakhstan" whole.
_DERIVED = frozenset({"at", "ation", "ion", "al", "ment", "ist", "ism", "ian", "an", "ese", "ic", "i", "stan"})


def related(a: str, b: str) -> bool:
    """The same word, or one derived from the other by a common suffix (stems of 4+ letters)."""
    if a == b:
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 4 and long.startswith(short) and long[len(short) :] in _DERIVED


def coverage(weights: Mapping[str, float], stems: Iterable[str] | set[str]) -> float:
    """Weighted share (0..1) of the question's stems found in ``stems`` (or a word derived from
    one: ``related``). ``math.fsum`` is exact, so the result does not depend on the order the
    terms come in."""
    have = stems if isinstance(stems, set | frozenset) else set(stems)
    total = math.fsum(weights.values())
    if total <= 0:
        return 0.0
    return math.fsum(w for t, w in weights.items() if t in have or _derived_in(t, have)) / total


def _derived_in(term: str, stems: set[str] | frozenset[str]) -> bool:
    if len(term) < 4:
        return False
    head = term[:4]
    return any(s[:4] == head and related(term, s) for s in stems)


_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|\w+")  # as ``retrieval.query_terms`` splits a question
# A run of capitalised words, maybe joined by "of", "and", "for", "the" or a hyphen: "European
# Central Bank", "Bank of England", "Russia-led Collective Security Treaty Organisation".
_NAME_RUN = re.compile(r"[A-Z][a-z]+(?:(?:\s+(?:of|and|for|the|on)\s+|[\s-]+)[A-Z][a-z]+)+")
_CAPITAL_WORD = re.compile(r"[A-Z][a-z]+")
_RUN_WORD = re.compile(r"[A-Za-z]+")
LONGEST_ACRONYM = 6


def acronyms(text: str) -> set[str]:
    """The initials (two to six letters, lowercased) of every run of capitalised words in
    ``text``: a question's "ECB" meets "The European Central Bank kept its rate", the way news
    names an organisation in full first and by its initials after. Every part of a run counts
    ("The European Central Bank" gives "tecb", "ecb", "cb" ...): where the name starts is not
    known."""
    out: set[str] = set()
    for run in _NAME_RUN.finditer(text):
        # With and without the joining words' initials: "Bank of England" is the BoE, "United
        # States of America" the USA.
        for found in (_CAPITAL_WORD.findall(run.group(0)), _RUN_WORD.findall(run.group(0))):
            initials = "".join(w[0] for w in found).lower()
            for i in range(len(initials)):
                for j in range(i + 2, min(len(initials), i + LONGEST_ACRONYM) + 1):
                    out.add(initials[i:j])
    return out


# Initials news writes for lowercase words, which ``acronyms`` cannot read off capitals: "Who is
# the CEO?" over "Chief executive Anna Keller said ...". Each way round: the sentence that writes
# the words holds the initials, the one that writes the initials holds the words.
ABBREVIATIONS = {
    "ai": "artificial intelligence",
    "ceo": "chief executive",
    "cfo": "chief financial officer",
    "coo": "chief operating officer",
    "cpi": "consumer price index",
    "cto": "chief technology officer",
    "ev": "electric vehicle",
    "gdp": "gross domestic product",
    "hq": "headquarters",
    "ipo": "initial public offering",
    "lng": "liquefied natural gas",
    "mp": "member of parliament",
    "ngo": "non governmental organization",
    "pm": "prime minister",
    "vp": "vice president",
}
_SPELLED_OUT = re.compile(
    r"\b(?:" + "|".join(r"[\s-]+".join(p.split()) for p in sorted(ABBREVIATIONS.values())) + r")",
    re.IGNORECASE,
)
_EXPANSION = {phrase: initials for initials, phrase in ABBREVIATIONS.items()}


def text_stems(text: str) -> set[str]:
    """The stems of every word of ``text`` (``match_stem``), and the initials of its names
    (``acronyms``) and of the lowercase phrases news abbreviates (``ABBREVIATIONS``), to match a
    question's stems against. Split as a question's words are (``retrieval.query_terms``):
    "CSTO's" gives "csto" (and "s"), so it meets the question's "CSTO"."""
    out = {match_stem(w) for w in _TOKEN.findall(text.lower())}
    initials = acronyms(text)
    # Stemmed as a question's word is: "US" is "u" to Porter, and "United States" gives "us".
    return out | initials | {match_stem(a) for a in initials} | abbreviated(text, out)


def abbreviated(text: str, stems: set[str]) -> set[str]:
    """What ``text`` (with these ``stems``) says the other way round (``ABBREVIATIONS``): the
    initials of the phrases it spells out, and the words' stems of the initials it writes."""
    out = {_EXPANSION[" ".join(re.split(r"[\s-]+", m.group(0).lower()))] for m in _SPELLED_OUT.finditer(text)}
    for initials in sorted(stems & ABBREVIATIONS.keys()):
        out.update(match_stem(w) for w in ABBREVIATIONS[initials].split())
    return out
