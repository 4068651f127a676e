"""The question as asked in chat: cleaned (mentions, lone surrogates, length), greetings told apart,
and follow-ups ("and what about Russia?") resolved against the conversation. Pure functions, used
by ``answer`` before retrieval."""

from __future__ import annotations

import re
from collections.abc import Sequence

from . import retrieval
from .text import STOPWORDS

MAX_QUESTION_CHARS = 1000  # a question longer than this is cut (Discord allows 4,000 in a modal)

_GREETING = re.compile(
    r"^\s*(?:hi+|hello+|hey+|yo|hiya|howdy|greetings|good\s+(?:morning|afternoon|evening|day)|"
    r"thanks?(?:\s+you)?|thank\s+you|thx|ty|cheers|ok(?:ay)?|cool|bye|goodbye)"
    r"(?:\s+(?:there|all|everyone|folks|bot|newsdesk|so\s+much|a\s+lot))*\s*[!.?,:)]*\s*$",
    re.I,
)
_MENTION = re.compile(r"<@[!&]?\d+>|@(?:everyone|here)\b")
_MARKER = re.compile(r"\[\d+\]")
_FOLLOW_UP = re.compile(
    r"^\s*(?:and|but|also|what about|how about|and what about|and how about|what of|same for|"
    r"what else|why|how come|when|where|who else|is that|was that|did (?:he|she|they|it)|"
    r"(?:and )?(?:he|she|they|it|that|this|those|these|them|his|her|their|its)\b)",
    re.I,
)
_PROPER = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")


# ---------------------------------------------------------------------------- question handling


_SURROGATE = re.compile("[\ud800-\udfff]")


def normalise_question(question: str | None) -> str:
    """A question as it can be embedded, stored and printed: a lone surrogate (what Python makes of
    undecodable bytes in argv, or a broken client sends) becomes U+FFFD instead of an error in the
    tokenizer, SQLite or the terminal."""
    return _SURROGATE.sub("\ufffd", question or "")


def clean_question(question: str) -> tuple[str, bool]:
    """The question without mentions and with whitespace folded, cut to MAX_QUESTION_CHARS at a
    word boundary; and whether it was cut."""
    text = " ".join(_MENTION.sub(" ", question or "").split())
    if len(text) <= MAX_QUESTION_CHARS:
        return text, False
    cut = text.rfind(" ", 0, MAX_QUESTION_CHARS)
    return text[: cut if cut > 0 else MAX_QUESTION_CHARS], True


def is_greeting(question: str) -> bool:
    return bool(_GREETING.match(question))


def previous_question(history: Sequence[str]) -> str | None:
    """The latest user turn of ``history`` (oldest first). Answer turns carry ``[n]`` markers or
    are long; they are skipped."""
    for turn in reversed(history):
        turn = " ".join((turn or "").split())
        if turn and not _MARKER.search(turn) and len(turn) <= MAX_QUESTION_CHARS and not is_greeting(turn):
            return turn
    return None


def resolve_follow_up(question: str, history: Sequence[str]) -> str:
    """A follow-up ("and what about Russia?") resolved against the previous question: its topic
    words are carried over, and names the follow-up replaces are dropped. A question that stands on
    its own is returned unchanged."""
    previous = previous_question(history)
    if not previous:
        return question
    own_terms = retrieval.query_terms(question)
    if not (_FOLLOW_UP.match(question) or len(own_terms) <= 2):
        return question
    new_names = {n.lower() for n in _proper_names(question)}
    carried = previous
    if new_names:
        # "China" in the previous question gives way to "Russia" in "what about Russia?": as many
        # earlier names as the follow-up brings, the first ones (usually the subject), are replaced.
        replaced = [n for n in _proper_names(previous) if n.lower() not in new_names][: len(new_names)]
        for name in replaced:
            carried = re.sub(rf"\b{re.escape(name)}\b", " ", carried)
    carried = " ".join(carried.split())
    stripped = re.sub(r"^\s*(?:and|but|also)\s+", "", question, flags=re.I).strip()
    return f"{stripped} ({carried})" if carried else stripped


def _proper_names(text: str) -> list[str]:
    names = []
    for m in _PROPER.finditer(text):
        words = [w for w in m.group(0).split() if w.lower() not in STOPWORDS]
        if m.start() == 0 and words and len(m.group(0).split()) == 1:
            continue  # a capitalised first word is usually just the sentence start
        if words:
            names.append(" ".join(words))
    return names
