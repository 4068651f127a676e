"""The question as asked in chat: cleaned (mentions, lone surrogates, length), greetings told apart,
and follow-ups ("and what about Russia?") resolved against the conversation. Pure functions, used
by ``answer`` before retrieval."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence

from . import retrieval
from .dates import parse_date_intent, time_phrases
from .signals import name_phrases
from .text import stem

MAX_QUESTION_CHARS = 1000  # a question longer than this is cut (Discord allows 4,000 in a modal)

# A greeting, thanks or goodbye, small talk ("hello there, how are you today?"), or several of them
# ("thanks, that's all for now"): a friendly reply, not a search ("today" or "now" in it is no time
# word, and no document answers it).
APOSTROPHE = _A = "['’]?"  # an apostrophe, straight or curly, or none
LINE_END = _END = r"\s*[?!.]*\s*$"  # the end of a line that is matched whole: only spaces and ?!. after it
# Thanks and goodbyes (they get a goodbye: ``small_talk_reply``), and the other polite words.
_GOODBYE = (
    r"thanks?(?:\s+you)?|thank\s+you|thx|ty|cheers|no\s+thanks?|never\s*mind|bye(?:\s+for\s+now)?|goodbye|"
    r"good\s*night|see\s+(?:you|ya)(?:\s+(?:later|soon|tomorrow))?|"
    rf"that{_A}s\s+(?:all|it)(?:\s+for\s+(?:now|today))?|that\s+(?:will|{_A}ll)\s+be\s+all|"
    r"have\s+a\s+(?:good|nice|great)\s+(?:day|one|evening|weekend)"
)
# Acknowledgements of an answer ("yes", "ok", "got it"): "yes" was searched, and quoted a passage.
_ACK = (
    r"ok(?:ay)?|yes|yeah|yep|yup|sure|cool|great|perfect|awesome|nice|interesting|wow|i\s+see|got\s+it|"
    rf"understood|makes\s+sense|that{_A}s\s+(?:great|helpful|perfect|interesting)"
)
_POLITE = (
    r"hi+|hello+|hey+|yo|hiya|howdy|greetings|good\s+(?:morning|afternoon|evening|day)|"
    rf"{_ACK}|{_GOODBYE}|"
    # A first message to see whether the bot answers: "test", "testing 1 2 3", "blah blah test".
    r"test(?:ing)?|blah|1\s*,?\s*2\s*,?\s*3"
)
_CHAT = (
    rf"how\s+are\s+(?:you|u)(?:\s+doing)?(?:\s+today)?|how{_A}s\s+it\s+going|what{_A}s\s+up|"
    rf"nice\s+to\s+meet\s+you|who\s+are\s+you|what\s+can\s+you\s+do|what{_A}s\s+your\s+name|"
    r"are\s+you\s+(?:a\s+)?(?:bot|robot|human|real|there|alive|awake|online|working)|tell\s+me\s+about\s+yourself|"
    r"is\s+(?:this|it)\s+(?:thing\s+)?(?:on|working)"
)
_GREETING = re.compile(
    # Atomic groups, one separator class: each word is matched one way only, so a long line of
    # "thanks thanks ..." is linear work, not exponential backtracking.
    rf"^\s*(?=\S)(?>(?:{_POLITE})(?:\s+(?:there|all|everyone|folks|bot|newsdesk|so\s+much|a\s+lot))*[\s!.?,:;)]*)*"
    rf"(?>(?:{_CHAT})[\s!.?,:;)]*)?$",
    re.I,
)
_THANKS = re.compile(rf"\b(?:{_GOODBYE})", re.I)
_ACK_ONLY = re.compile(rf"^\s*(?>(?:{_ACK})[\s!.?,]*)+$", re.I)
_MENTION = re.compile(r"<@[!&]?\d+>|@(?:everyone|here)\b")
# A citation marker, "[2]", also as the bot's escaped embed text gives it back ("\\[2\\]").
_MARKER = re.compile(r"\\?\[\d+\\?\]")
_PRONOUN = re.compile(r"\b(?:he|she|they|him|her|his|hers|them|their|it|its)\b", re.I)
_PERSON = re.compile(r"\b(?:he|she|they|him|her|his|hers|them|their)\b", re.I)  # who: "it" is no one
_LATER = re.compile(r"\b(?:after that|afterwards?|then|next|later|what else|anything else|more|go on|continue)\b", re.I)
_FOLLOW_UP = re.compile(
    r"^\s*(?:and|but|also|what about|how about|and what about|and how about|what of|same for|"
    r"what else|how come|who else|is that|was that|did (?:he|she|they|it)|"
    r"(?:and )?(?:he|she|they|it|that|this|those|these|them|his|her|their|its)\b)",
    re.I,
)
# A question asked in full ("Where were ships diverted?", "Who is Tokayev?"): with words of its own
# it stands alone, however short. Only a bare phrase ("Russia?", "wheat prices?") is read as "what
# about ...?".
_ASKS = re.compile(
    r"^\s*(?:who|whom|whose|what|which|when|where|why|how|is|are|was|were|do|does|did|can|could|will|"
    r"would|should|shall|has|have|had|may|might|must|any(?:thing)?\s+(?:new|news|updates?)|tell me|name|"
    r"list|explain|describe)\b",
    re.I,
)
# A line of stopwords that asks about the last answer: "why?", "when?", "how?".
_BARE_ASK = re.compile(r"^\s*(?:who|when|where|why|how)\b", re.I)


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


# "What do you know about Lagarde?", "Tell me about the strike": the frame asks nothing; its words
# ("know", "tell") matched "tells more than anything" in a quote, not the topic.
_FRAMING = re.compile(
    r"^\s*(?:(?:so|ok(?:ay)?|and)[\s,]+)?(?:(?:what|how\s+much)\s+do\s+you\s+know\s+(?:about|of|on)|"
    r"(?:(?:can|could|would)\s+you\s+)?(?:please\s+)?tell\s+me\s+(?:something\s+|a\s+bit\s+|anything\s+)?"
    r"(?:about|of)|"
    r"what\s+can\s+you\s+tell\s+me\s+(?:about|of)|(?:do\s+you\s+have|is\s+there)\s+any(?:thing)?\s+(?:on|about)|"
    r"i\s+(?:want|would\s+like|'d\s+like)\s+to\s+know\s+(?:about|more\s+about))\s+",
    re.I,
)


def without_framing(question: str) -> str:
    """The question without a frame that only says "about": "What do you know about Lagarde?" is
    "Lagarde?". Unchanged when the frame is all there is."""
    rest = _FRAMING.sub("", question, count=1).strip()
    return rest if retrieval.query_terms(rest) else question


# "How do I add a document?", "what can you do?": about the bot, not the documents.
_HOW_TO = re.compile(
    r"^\s*(?:how\s+(?:do|can|should)\s+(?:i|we|you|one)\s+(?:add|upload|index|import|send|give\s+you|feed\s+you)"
    r"(?:\s+(?:a|an|the|new|more|my|our|some))*\s+(?:documents?|docs?|files?|articles?|pdfs?|links?|urls?|texts?|news)"
    r"(?:\s+to\s+(?:you|the\s+bot|it))?|"
    rf"what\s+can\s+you\s+do|how\s+do\s+(?:i\s+use\s+(?:you|this|it)|you\s+work)){_END}",
    re.I,
)


def is_greeting(question: str) -> bool:
    """A greeting or small talk, also about the bot itself ("how do I add a document?")."""
    return bool(_GREETING.match(question) or _HOW_TO.match(question))


def refers_back(question: str) -> bool:
    """Whether a line points back at the conversation ("and ...?", "what did he say?", "what
    else?", "why?"): then even a line of stopwords alone is a follow-up."""
    return bool(
        _FOLLOW_UP.match(question) or _PRONOUN.search(question) or _LATER.search(question) or _BARE_ASK.match(question)
    )


def is_follow_up(question: str) -> bool:
    """Whether a question asked after another continues it: it opens with "and", "what about" and
    the like, points back with a pronoun and names nobody itself ("what did he say?"), has no word
    to search of its own ("why?", "and in 2019?"), or is a bare phrase ("Russia?"). A question in
    full is a new one, however short: read as a follow-up, "Where were ships diverted?" after a
    question on pay got the pay question's words, and lost the sentences already said (a
    follow-up must not repeat them)."""
    own = retrieval.query_terms(question)
    if _FOLLOW_UP.match(question) or _MORE_ALONE.match(question) or not any(re.search(r"[^\W\d_]", t) for t in own):
        return True
    if _PRONOUN.search(question) and not name_phrases(question):
        return True
    return len(own) <= 2 and not _ASKS.match(question)


# "What day is it today?", "What time is it?": the clock answers, not the documents (a story about
# International Women's Day is no answer to what day it is).
_CLOCK = re.compile(
    rf"^\s*(?:(?:what|which)\s+(?:day|date|time|year|month)\s+is\s+it(?:\s+(?:today|now|right\s+now))?|"
    rf"what(?:{_A}s|\s+is)\s+(?:the\s+)?(?:date|day|time|year|month)(?:\s+(?:today|now|right\s+now))?|"
    rf"what(?:{_A}s|\s+is)\s+today(?:{_A}s\s+date)?){_END}",
    re.I,
)


def asks_the_clock(question: str) -> bool:
    return bool(_CLOCK.match(question))


# "What's new?", "What are the documents about?", "Summarize the documents": a newcomer's first
# lines ask for an overview, and name no topic to search (they were refused, or got "ask me a
# question"). With a topic ("what's the latest on the strike?") it is a question like any other.
_DOCS = r"(?:documents?|docs?|articles?|news|stories|collection|files?|everything)"
_OVERVIEW = re.compile(
    rf"^\s*(?:(?:so|ok(?:ay)?|hey|hi|and)[\s,]+)?(?:"
    rf"what(?:{_A}s|\s+is|\s+are)\s+(?:the\s+)?(?:latest|newest|new|news|happening|going\s+on)"
    rf"(?:\s+(?:news|stories|headlines|documents|today|now|lately|here|then))*|"
    rf"(?:is\s+there\s+)?any(?:thing)?\s+(?:new|news|updates?)(?:\s+(?:today|lately|then))?|"
    rf"(?:(?:can|could)\s+you\s+)?(?:give\s+me\s+|show\s+me\s+)?(?:a\s+|an\s+|the\s+)?"
    rf"(?:summary|overview|rundown|recap|headlines)"
    rf"(?:\s+of\s+(?:the\s+|your\s+|all\s+(?:the\s+)?)?{_DOCS})?(?:\s+please)?|"
    rf"(?:(?:can|could)\s+you\s+)?(?:summari[sz]e|sum\s+up)\s+(?:the\s+|your\s+|all\s+(?:the\s+)?|these\s+)?{_DOCS}"
    rf"(?:\s+(?:for\s+me|please))?|"
    rf"what\s+(?:are|is)\s+(?:the|these|your|all\s+the|this)\s+{_DOCS}\s+about|"
    rf"what\s+(?:do\s+you\s+(?:know|have)|{_DOCS}\s+do\s+you\s+have|can\s+i\s+ask(?:\s+you)?(?:\s+about)?)|"
    rf"(?:what|which|how\s+many)\s+(?:{_DOCS}|sources)\s+(?:do\s+you\s+have|are\s+there|have\s+you\s+got)|"
    rf"(?:(?:can|could)\s+you\s+)?(?:list|show(?:\s+me)?)\s+(?:the\s+|your\s+|all\s+(?:the\s+)?)?(?:{_DOCS}|sources)"
    rf"){_END}",
    re.I,
)


# With a window of time words ("What happened this week?", what is left once they are taken out):
# what happened then, in the documents dated in it. Without one, "what happened?" asks about the
# story being talked of.
_DATED_OVERVIEW = re.compile(
    rf"^\s*(?:what(?:{_A}s|\s+has|\s+have)?\s+(?:happened|been\s+happening)|"
    rf"what\s+(?:was|were)\s+(?:in\s+the\s+news|new|reported|the\s+(?:news|headlines))|"
    rf"(?:was|were)\s+there\s+(?:any\s+)?(?:news|stories)|(?:show|give|tell)\s+me\s+(?:the\s+)?news|"
    rf"(?:any|the)\s+news|news|headlines|anything){_END}",
    re.I,
)


def asks_for_overview(question: str, *, dated: bool = False) -> bool:
    """ "What's new?" and the like (``dated``: also "what happened?", the rest of "What happened
    this week?" once its time words are taken out)."""
    return bool(_OVERVIEW.match(question) or (dated and _DATED_OVERVIEW.match(question)))


def asks_for_dated_overview(question: str, *, now: dt.datetime) -> bool:
    """ "What happened this week?", "Any news from November?": what happened in a period, with no
    topic; a line that stands on its own, whatever was asked before it."""
    intent = parse_date_intent(question, now=now)
    if intent.window:
        return asks_for_overview(intent.query, dated=True)
    return intent.about_from is not None and asks_for_overview(intent.period_as_window().query, dated=True)


def clock_reply(now: dt.datetime) -> str:
    """Today's date and the time, in UTC (the bot does not know the asker's time zone)."""
    now = now.astimezone(dt.UTC)
    return f"It is {now:%A}, {now.day} {now:%B %Y}, {now:%H:%M} UTC. Ask me about the documents any time."


def small_talk_reply(question: str) -> str:
    """The reply to a greeting or small talk (``is_greeting``): thanks and goodbyes get a goodbye."""
    if _THANKS.search(question):
        return "You're welcome! Ask me again whenever you need something from the documents."
    if _ACK_ONLY.match(question):
        return "Glad it helps. Ask me anything else about the documents."
    if _HOW_TO.match(question):
        return (
            "I answer questions from the documents, quoting the passages that support each answer, and post a "
            "daily briefing of what is new. Moderators add documents (a file, pasted text or a link) with "
            "/doc add; in the console, doc add PATH or URL."
        )
    return "Hello! Ask me anything about the documents and I will answer with the passages that support it."


class Reply(str):
    """A turn of a conversation's history that the bot said. Plain strings are read by their
    shape (an answer carries ``[n]`` markers); a refusal or a greeting has none, and would read as
    the user's last question: a follow-up after "I couldn't find this" carried that line's words."""

    __slots__ = ()


def previous_question(history: Sequence[str]) -> str | None:
    """The latest user turn of ``history`` (oldest first). The bot's turns (``Reply``, or a turn
    with ``[n]`` markers or too long to be a question) are skipped."""
    at = _previous_at(history)
    return None if at is None else " ".join(history[at].split())


def _previous_at(history: Sequence[str]) -> int | None:
    """Where ``previous_question`` is in ``history``."""
    for at in range(len(history) - 1, -1, -1):
        turn = history[at]
        if isinstance(turn, Reply):
            continue
        turn = " ".join((turn or "").split())
        if turn and not _MARKER.search(turn) and len(turn) <= MAX_QUESTION_CHARS and not is_greeting(turn):
            return at
    return None


def _answer_parts(turn: str) -> list[str]:
    """A bot turn's quoted parts, between its ``[n]`` markers (empty for a user turn), as the
    passages hold them: without the escapes and the zero-width spaces Discord's rendering adds."""
    if not turn or not _MARKER.search(turn):
        return []
    return [" ".join(part.split()) for part in _MARKER.split(turn.replace("\\", "").replace("\u200b", ""))]


def earlier_answers(history: Sequence[str]) -> list[str]:
    """The sentences the bot already answered with in ``history`` (its turns carry ``[n]``
    markers), without the markers: a follow-up must not say them again."""
    return [part for turn in history for part in _answer_parts(turn) if len(part) > 20]


def last_answer(history: Sequence[str]) -> list[str]:
    """The bot's latest turn (one with ``[n]`` markers) as a one-turn history, or none."""
    return next(([turn] for turn in reversed(history) if _answer_parts(turn)), [])


# "why?" alone after an answer asks what explains it; news tells it next ("No one will be laid
# off. About 150 crane operators will be retrained ...").
_WHY_ALONE = re.compile(
    r"^\s*(?:(?:and|but|so)[\s,]+)?(?:why|why so|why not|why is that|how so|how come)\s*[?!.]*\s*$", re.I
)


def wants_later(question: str) -> bool:
    """ "And what did he say after that?", "what else?", "why?": the follow-up asks for what comes
    next."""
    return bool(_LATER.search(question) or _WHY_ALONE.match(question))


# "Tell me more about the strike": a question in full, with a topic of its own, that asks for what
# has not been said (after "What's new?" it repeated the sentences just given).
_MORE_ABOUT = re.compile(r"^\s*(?:(?:tell|give|show)\s+(?:me|us)\s+more|more\s+(?:about|on)|what\s+else)\b", re.I)


# "tell me more", "go on", "anything else?" alone: more on what was being talked of (it was told to
# ask a question, and "more" alone was searched: "tells more than anything" in a quote).
_MORE_ALONE = re.compile(
    r"^\s*(?:(?:so|ok(?:ay)?|and)[\s,]+)?(?:(?:tell|give|show)\s+(?:me|us)\s+more|more|go\s+on|continue|"
    rf"keep\s+going|anything\s+else|what\s+else|and\s+then|then\s+what)(?:\s+please)?{_END}",
    re.I,
)


def asks_for_more(question: str) -> bool:
    """ "Tell me more about the strike": more on a topic the line names itself."""
    return bool(_MORE_ABOUT.match(question)) and not _MORE_ALONE.match(question)


def more_topic(question: str) -> str:
    """ "Tell me more about the strike" -> "the strike"."""
    return re.sub(r"^\s*(?:about|on|of)\b", "", _MORE_ABOUT.sub("", question, count=1), flags=re.I).strip()


def _answer_names(history: Sequence[str]) -> list[str]:
    """The names in the bot's latest answer, first sentence first: what "he" or "they" in a
    follow-up most likely points at."""
    for turn in reversed(history):
        if parts := _answer_parts(turn):
            return name_phrases(parts[0])
    return []


def _bare_phrase(question: str) -> bool:
    """A line of one or two words to search, no question word, opener or pronoun: "Russia?",
    "wheat?", "rotterdam strike"."""
    own = retrieval.query_terms(question)
    return (
        0 < len(own) <= 2
        and any(re.search(r"[^\W\d_]", t) for t in own)
        and not _FOLLOW_UP.match(question)
        and not _PRONOUN.search(question)
        and not _ASKS.match(question)
    )


def _new_topic(phrase: str, previous: str) -> bool:
    """Whether a bare phrase after a question starts a search of its own: it shares no word with
    the question, and is typed as keywords are (two words, no question mark: "rotterdam strike"),
    or names something where the question names nothing it could replace ("ECB" after "how many
    jobs is nordwave cutting"). "wheat?" after a question on corn exports, and "Russia?" after
    "What did China say?", still carry the question."""
    own = {stem(t) for t in retrieval.query_terms(phrase)}
    if own & {stem(t) for t in retrieval.query_terms(previous)}:
        return False
    keywords = len(own) == 2 and not phrase.rstrip().endswith("?")
    return keywords or (bool(name_phrases(f". {phrase}")) and not name_phrases(previous))


# A follow-up that names a period and nothing else: "and last week?", "what about in 2019?", or a
# month or year alone, "and October?" (read "in October"; not "May?", which may be a name).
_OPENER = r"(?:and|but|also|so|or|then|what|how|about)"
_NOTHING_ELSE = re.compile(rf"(?:(?:{_OPENER}|in)\b\s*)*[?!.]*", re.I)
_PERIOD_ALONE = re.compile(
    rf"^((?:{_OPENER}\s+)*)"
    rf"((?:{'|'.join(m.lower() for m in calendar.month_name if m and m != 'May')})|(?:19|20)\d\d)"
    r"(?=\s*[?!.]*\s*$)",
    re.I,
)


def _without(text: str, phrases: Sequence[str]) -> str:
    for phrase in phrases:
        text = text.replace(phrase, " ")
    return " ".join(text.split())


def resolve_follow_up(question: str, history: Sequence[str], *, chain: bool = True) -> str:
    """A follow-up ("and what about Russia?") resolved against the previous question: its topic
    words are carried over, and names the follow-up replaces are dropped. A question that stands on
    its own is returned unchanged."""
    at = _previous_at(history)
    if at is None or not is_follow_up(question):
        return question
    previous = " ".join(history[at].split())
    bare = _bare_phrase(question)
    if bare and _new_topic(question, previous):
        return question
    if chain:
        # The previous question may be a follow-up too: "how long will they stay?" after "when
        # did they leave?" is about the troops of the question before that one. One step back
        # only, further back the carried words outweigh what is asked now; unless that one had no
        # words of its own ("when?", "where?", then "who said so?"): then on to the one before.
        previous = resolve_follow_up(previous, history[:at], chain=not retrieval.query_terms(previous))
    asked = _PERIOD_ALONE.sub(r"\1in \2", question)  # "and October?" asks "and in October?"
    period = time_phrases(asked)
    if period and _NOTHING_ELSE.fullmatch(_without(asked, period)):
        # "and last week?" after "What happened this week?": the same question, its time words
        # replaced (carried beside them, "this week" would be read first and win).
        return f"{_without(previous, time_phrases(previous)).rstrip(' ?!.')} {' '.join(period)}?"
    # A bare phrase's first word is a name too: "Russia?" replaces "China" as "and Russia?" does.
    new_names = {n.lower() for n in name_phrases(f". {question}" if bare else question)}
    carried = previous
    if new_names:
        # "China" in the previous question gives way to "Russia" in "what about Russia?": as many
        # earlier names as the follow-up brings, the first ones (usually the subject), are replaced.
        replaced = [n for n in name_phrases(previous) if n.lower() not in new_names][: len(new_names)]
        for name in replaced:
            carried = re.sub(rf"\b{re.escape(name)}\b", " ", carried)
    if not new_names and _PERSON.search(question):
        # "and what did he say?": he is most likely who the last answer named first. Not "it":
        # "who asked about it?" after the buyback carried the finance chief who announced it.
        names = [n for n in _answer_names(history) if n.lower() not in carried.lower()]
        if names:
            carried = f"{names[0]} {carried}"
    carried = " ".join(carried.split())
    if _MORE_ALONE.match(question) and carried:
        return carried  # "tell me more": its own words would be searched ("tells more than anything")
    stripped = re.sub(r"^\s*(?:and|but|also)\s+", "", question, flags=re.I).strip()
    return f"{stripped} ({carried})" if carried else stripped
