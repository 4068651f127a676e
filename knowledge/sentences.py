"""Which sentence answers the question: every sentence of the best passages scored against it, the
best one first, then only what adds to it.

Pure functions over text and scores (no storage, no model call), so they are tested with
hand-checked numbers and are the same in every process.

The score of a sentence (``SentenceWeights``, fitted on the dev sets, README "Answers"):
- how much of the question it holds: the share of the question's words it contains, each word
  weighted by its general-English rarity (``termweights``: the same in a collection of 1 document
  and of 1,000,000), alone and with its document's title, and weighted also by its rarity among
  the sentences read (``local_weights``: which of them it tells apart);
- whether it holds what the question asks for and the question itself does not (a name for "who",
  a number for "how many", a date for "when": ``signals.has_answer_of_type``), and for "how many X"
  a number next to X (``signals.has_quantity``);
- where it stands: its passage's retrieval score against the best passage's, whether that passage
  is the best one, whether it opens its passage (news puts the answer first).

Scoring the ~30 candidates with the embedding model as well was measured: about 580 ms a question on
one thread here, and no gain in choosing the answer sentence (0.804 vs 0.811 on realtimeqa-dev,
0.791 vs 0.774 on xquad-en) once the answer type is checked, so it is not done.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .signals import (
    answer_kind,
    has_answer_of_type,
    has_named_role,
    has_quantity,
    role_asked,
)
from .termweights import coverage, match_stem, stem_weights, text_stems
from .text import (
    LIST_ITEM,
    NUMBERED,
    TABLE_ROW,
    Sentence,
    content_words,
    headings,
    is_data_row,
    is_heading,
    number_parts,
    numbered_items,
    repeats,
    sign_off,
    split_sentences,
)

# Sentences after the first stop before this many words. A bound on a long tail, not what keeps
# answers short (the margin below does): at 70 it cut the second sentence after a long first one,
# and lost hits on Wikipedia's long sentences (README, "Answers").
MAX_WORDS = 120


@dataclass(frozen=True)
class SentenceWeights:
    """Fitted as a conditional logit (the sentence holding the gold answer against the others of
    its question) on realtimeqa-dev and xquad-en together: it picks the answer sentence first for
    0.811 and 0.774 of the questions that have one among the candidates (the reading-order choice
    it replaces: 0.843 and 0.381). The three shares of the question's words were then set by a grid
    on the first sentence (README, "Answers")."""

    passage: float = 0.366  # times (passage score - best passage score)
    best_passage: float = 0.926  # the sentence is in the best passage
    opening: float = 0.646  # it opens its passage
    later: float = 0.39  # times min(index, 5) / 5: past the opening, position matters little
    terms: float = 1.5  # weighted share of the question's words in the sentence
    terms_local: float = 2.0  # ... each word weighted by its rarity among the sentences read too
    terms_titled: float = 0.5  # ... in the sentence and its document's title
    # Less for the share of the question's words a sentence holds only through its heading: under
    # "3.1 Annual leave", "How many days of annual leave do employees get?" quoted the days carried
    # over (which say "days" alone) before "27 days of paid annual leave". Set by hand: from 0.6
    # a heading's words no longer outweigh a name the title gives ("What are the risks for
    # Vantor?"); the dev sets have no headings.
    section_only: float = 0.3
    quantity: float = 0.954  # "how many X": a number next to X
    answer_type: float = 1.266  # holds a name / number / date / sum of money the question asks for and lacks
    # "Who is the CEO of Aldwyn?": a name next to the role is the answer, and the document's
    # opening line naming Aldwyn ("Welcome to the Aldwyn Pharma call") came first. Set by hand: the
    # dev sets' 8 such questions choose the same from 1.27 to 5.3; 3.3 puts the name first here.
    role: float = 3.3
    # More sentences follow the first only while they score within this of it (the answer is
    # uncertain, and one of them may hold it). With up to 4 sentences (5 to explain) and 120
    # words, 1.45 gave the median answer 30 and 44 words on the dev sets, against 35 and 49 at
    # 2.0 with 3 sentences and 70 words, and xquad-en's hits rose (README, "Answers", has the
    # curve) ...
    margin: float = 1.45
    # ... and add something: a sentence sharing this share of its words with one already chosen
    # repeats it.
    repeat_overlap: float = 0.6


WEIGHTS = SentenceWeights()


@dataclass(frozen=True)
class Candidate:
    passage_id: int
    rank: int  # of its passage in the answer ranking (0 = best)
    index: int  # position of the sentence in its passage
    start: int  # offsets in the passage text
    end: int
    text: str
    passage_score: float
    coverage: float  # weighted share of the question's words in the sentence
    score: float
    # The words it holds as its own: its text's, and its headings' and title's under headings
    # ("Duplicate payments were shown twice" under "Version 4.1" / "Fixed" holds "4.1").
    stems: frozenset[str] = frozenset()
    heading: str = ""  # the heading it stands under in its passage, if any ("Q1 2027")


# "Why ...?", "How does ...?", "Explain ...": the answer is an explanation, and may take more than
# one sentence. "How many/much/long ..." asks for a fact.
_EXPLAIN = re.compile(
    r"^\s*(?:why|how (?!many\b|much\b|long\b|old\b|far\b|big\b|tall\b|high\b|often\b|fast\b|soon\b)|"
    r"explain|describe|what (?:happened|caused|led)|in what way)",
    re.I,
)


# The adjective of "how long/old/far ...?" says what kind of answer is asked, not what it is about.
_HOW_WHAT = re.compile(r"\bhow\s+(long|old|far|big|tall|high|often|fast|soon|large|wide|deep|late|early)\b", re.I)


def wants_explanation(question: str) -> bool:
    return bool(_EXPLAIN.match(question))


def candidates(
    question: str,
    weights: Mapping[str, float],
    top: Sequence[tuple[int, float]],
    passages: Mapping[int, str],
    titles: Mapping[int, str],
    s: SentenceWeights = WEIGHTS,
    *,
    asks: str | None = None,
) -> list[Candidate]:
    """Every sentence of the ranked passages (``top``: passage id and score, best first) with its
    score; fragments (a byline, "Photo: AP") are skipped. Best first; ties keep reading order.
    ``asks``: the words whose question word says what is asked, when not all of ``question`` (a
    follow-up's own words)."""
    asks = asks or question
    # "How long has the strike lasted?": "long" asks for a duration, and "a long strike" is none.
    if frame := _HOW_WHAT.search(asks):
        weights = {k: v for k, v in weights.items() if k != match_stem(frame.group(1).lower())}
    kind = answer_kind(asks)
    role = role_asked(asks)  # "Who is the CEO of Helvia?": a name next to the role, not any name
    # "Who asked about acquisitions?": the text's own question is the answer, with its asker.
    about_asking = bool(_ABOUT_ASKING.search(asks))
    best = top[0][1] if top else 0.0
    read: list[tuple[int, int, float, int, int, Sentence, set[str], set[str], set[str]]] = []
    under: dict[tuple[int, int], str] = {}  # (passage, sentence) -> the heading it stands under
    for rank, (pid, pscore) in enumerate(top):
        title_stems = text_stems(titles.get(pid, ""))
        asked: set[str] = set()
        text = passages[pid]
        sentences = split_sentences(text)
        own = [_own_line(text, sent) for sent in sentences]
        heads = _headings(text, sentences, own)
        sections = _sections(text, sentences, heads, title_stems)  # what headings give each sentence
        row_at: int | None = None  # where the run of list items or table rows being read began
        before = ""  # the sentence before, whose names one that opens "She ..." holds
        speaker: set[str] = set()  # who speaks in this paragraph of a transcript ("Rachel Lim: ...")
        said_to = 0  # where the sentence before ended
        heading = ""
        for i, sent in enumerate(sentences):
            previous, before, section = before, sent.text, sections[i]
            if "\n" in text[said_to : sent.start]:
                speaker = set()  # a new paragraph, a new turn
            said_to = sent.end
            label = _SPEAKER.match(sent.text)
            if label:
                # "Rachel Lim: Thank you. Sales of our heart drug Corvexa rose 22%": the sentences
                # of her turn are hers. "What did Rachel Lim say about Corvexa?" quoted another
                # of her turns, whose first sentence names her, before the one on Corvexa.
                speaker = text_stems(label["who"])
                if _COURTESY.fullmatch(sent.text[label.end() :].strip()):
                    continue  # "Rachel Lim: Thank you.": a turn's courtesy, no answer
            if _asks_itself(sent.text) and not about_asking:
                # A question the text asks ("Q: Will jobs be lost?" in an interview, "So what went
                # wrong?") is not an answer, though it holds the asker's words best. The sentence
                # after it answers it ("A: No one will be laid off."), and holds its words as its
                # own; the rest have it as context, as under a heading.
                asked = text_stems(sent.text)
                title_stems = text_stems(f"{titles.get(pid, '')} {sent.text}")
                continue
            if heads[i]:
                # A heading ("Risks", "Outlook", "Who to ask"): what follows is about it, as a
                # document is about its title. "What are the risks?" met only "the main driver".
                # A report's section says what its sentences are about, and they seldom repeat it:
                # under "Risks" in "Vantor Systems: Q3 review", "Customer concentration remains
                # high" holds "risks" and "Vantor" as its own words. "What are the risks for
                # Vantor?" quoted the revenue line, which names Vantor, before it.
                title_stems, heading = section, sent.text
                # A heading is no answer ("Aurora launch review"), unless it gives the date asked
                # for: "When did version 4.2 come out?" over "Version 4.2 — November 18, 2026".
                if not (kind == "date" and has_answer_of_type(kind, [NUMBERED.sub("", sent.text)], question)):
                    continue
            signed = sign_off(sent.text) and not (role and has_named_role(role, sent.text, question))
            if len(sent.text.split()) < 3 and len(sent.text) < 20 or signed:
                continue  # a fragment ("Photo: AP"), or who signed the text: no answer, but to "Who is the CEO?"
            # An ordered list's item holds its number, a sentence apart: "What is step 2?" asks for it.
            number = NUMBERED.match(_from_line_start(text, sent))
            stems = text_stems(sent.text) | asked | speaker | ({number.group(0).strip(" .)")} if number else set())
            # The items of a list or the rows of a table stand where their run begins: a later
            # row is no likelier the answer ("How much does the Aurora battery cost?" quoted
            # the last market of a price table, Germany's, first).
            item = bool(LIST_ITEM.match(sent.text) or TABLE_ROW.match(sent.text) or is_data_row(sent.text)) and own[i]
            row_at = (i if row_at is None else row_at) if item else None
            place = i if row_at is None else row_at
            if _PRONOUN_FIRST.match(sent.text):
                # "She was 91." answers "How old was Margarethe Olsen?" with the name the sentence
                # before gave: its pronoun holds that name. xquad-en's lead_hit 0.784 to 0.791,
                # realtimeqa-dev's 0.856 to 0.855 (one question); answer_hit up on both.
                stems |= _name_stems(previous)  # only here: most sentences open otherwise
            read.append((rank, pid, pscore, i, place, sent, stems, section, title_stems))
            under[pid, i] = heading
            asked = set()
    local = local_weights(weights, [stems | section for *_, stems, section, _ in read])
    out: list[Candidate] = []
    for rank, pid, pscore, i, place, sent, own_stems, section, title_stems in read:
        stems = own_stems | section
        cov = coverage(weights, stems)
        score = (
            s.passage * (pscore - best)
            + s.best_passage * (rank == 0)
            + s.opening * (i == 0)
            + s.later * min(place, 5) / 5
            + s.terms * cov
            + s.terms_local * coverage(local, stems)
            - s.section_only * (cov - coverage(weights, own_stems))
            + s.terms_titled * coverage(weights, stems | title_stems)
            + s.quantity * has_quantity(asks, [sent.text])
            + (
                s.role * has_named_role(role, sent.text, question)
                if role
                else s.answer_type * (kind is not None and has_answer_of_type(kind, [sent.text], question))
            )
        )
        out.append(
            Candidate(
                pid,
                rank,
                i,
                sent.start,
                sent.end,
                sent.text,
                pscore,
                cov,
                round(score, 9),
                frozenset(stems),
                under[pid, i],
            )
        )
    # Rounded scores and a full sort key: the order is the same in every process and on every run.
    return sorted(out, key=lambda c: (-c.score, c.rank, c.index))


# A sentence that opens with a pronoun is about what the sentence before it named.
_PRONOUN_FIRST = re.compile(r"(?:He|She|It|They|His|Her|Its|Their)\b")


# A transcript's speaker: "Rachel Lim: ...", "Operator: ..." (a name of up to four words and a colon).
_SPEAKER = re.compile(r"(?P<who>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3}):\s+(?=\S)")
# Up to two words, neither a name nor a number: "Thank you.", "Yes.", "Good morning!" ("Apologies:
# Petra Novak." and "Date: 5 May" say something).
_COURTESY = re.compile(r"[A-Za-z'’]+(?:\s+[a-z'’]+)?[.!,]*")


def _headings(text: str, sentences: Sequence[Sentence], own: Sequence[bool]) -> list[bool]:
    """Which sentences are headings (``own``: which are the whole of their line). One of a few
    words on its own line is, only over text, as in ``chunking`` (``text.headings``): each line of
    a list of short lines ("Deliveries begin in February") has a heading's shape, and so has an
    item of a numbered list ("2. Press the power button", its number a sentence apart)."""
    over_text = headings([sent.text for sent in sentences], own)
    lines = [text[text.rfind("\n", 0, sent.start) + 1 :].split("\n", 1)[0] for sent in sentences]
    distinct = list(dict.fromkeys(lines))
    items = dict(zip(distinct, numbered_items(distinct), strict=True))
    return [
        (is_heading(sent.text) or h) and not items[line]
        for sent, h, line in zip(sentences, over_text, lines, strict=True)
    ]


def _sections(text: str, sentences: Sequence[Sentence], heads: Sequence[bool], title: set[str]) -> list[set[str]]:
    """The words each sentence's place under headings gives it, as its own (empty in a passage
    without headings). A text cut in sections is about its title in each of them, the opening
    before the first heading too: "How long did the outage last?" took the title's "outage" for
    every line under "Impact", not for the summary above them that says "For 2 hours". Under a
    heading, its words too, and those of the headings it comes under: the one right above it
    ("Version 4.2", then "Fixed"), and after text, the first of the last pair ("Fixed" after the
    "New" items of version 4.2), or where the headings are numbered, those of lower numbers
    ("3. Leave" over "3.1 Annual leave", not over "4. Expenses")."""
    if not any(heads):
        return [set() for _ in sentences]
    out: list[set[str]] = []
    current, parent = title, set[str]()
    numbered: list[tuple[int, set[str]]] = []  # the numbered headings open at this point, by depth
    for i, sent in enumerate(sentences):
        if heads[i]:
            own = text_stems(sent.text)
            # The number's own line: the splitter reads "3." of "3. Leave" as a sentence apart.
            number = number_parts(_from_line_start(text, sent))  # (3, 1) of "3.1": its depth is 2
            if number:
                numbered = [(d, stems) for d, stems in numbered if d < len(number)]
                current = title.union(*(stems for _, stems in numbered), own)
                numbered.append((len(number), own))
            elif i and heads[i - 1]:
                current = current | own
            elif i + 1 < len(heads) and heads[i + 1]:
                current = parent = title | own
            elif _ABOUT_WHOM.match(sent.text):
                # A press release's "About Kestrel Energy" is about the company, not the story
                # the title tells: "How many people will the Narvik factory employ?" quoted its
                # staff of 1,100, which held the title's "Narvik factory".
                current = own
            else:
                current = title | parent | own
        out.append(current)
    return out


_ABOUT_WHOM = re.compile(r"About\s+(?:the\s+)?[A-Z]")


def _from_line_start(text: str, sent: Sentence) -> str:
    """``sent`` with what stands before it on its line: the number of "2. Restart the API pods"."""
    return text[text.rfind("\n", 0, sent.start) + 1 : sent.end]


def _own_line(text: str, sent: Sentence) -> bool:
    """Is ``sent`` the whole of its line (after a number: "1. Aurora launch review")?"""
    start = text.rfind("\n", 0, sent.start) + 1
    end = text.find("\n", sent.end)
    line = text[start : len(text) if end < 0 else end].strip()
    return sent.text.strip() in (line, NUMBERED.sub("", line))


def _name_stems(text: str) -> set[str]:
    """The stems of the capitalised words of ``text`` past its first (which any sentence capitalises)."""
    return text_stems(" ".join(w for w in text.split()[1:] if w[:1].isupper()))


def local_weights(weights: Mapping[str, float], sentences: Sequence[set[str]]) -> dict[str, float]:
    """The question's word weights times how rare each word is among the sentences read
    (log((n + 1) / (in + 0.5))): a word every candidate holds, as a document's name does in its
    own sentences, cannot tell them apart. "Where will Lumora expand next?" over Lumora's press
    release chose a sentence for "Lumora" over the one that says "expand". Relative to what was
    read, so it ranks sentences only; whether to answer is decided without it."""
    n = len(sentences)
    return {
        term: weight * math.log((n + 1) / (sum(term in stems for stems in sentences) + 0.5))
        for term, weight in weights.items()
    }


# "Who asked ...?", "Which analyst asked ...?", "What did Hannah Cole ask?"; not "Who do I ask?".
_ABOUT_ASKING = re.compile(
    r"\b(?:who|which\s+\w+)\s+asked\b|\bwhat\s+(?:did|does|do)\s+(?!I\b|we\b|you\b)\w+(?:\s+\w+){0,3}\s+ask\b", re.I
)
_ASKS_ITSELF = re.compile(r"\?[\"”’'»)]*$")


def _asks_itself(sentence: str) -> bool:
    return bool(_ASKS_ITSELF.search(sentence.rstrip()))


def select(
    question: str,
    ranked: Sequence[Candidate],
    *,
    said: Sequence[str] = (),
    s: SentenceWeights = WEIGHTS,
    max_words: int = MAX_WORDS,
) -> list[Candidate]:
    """The answer's sentences, the one that answers first: the best candidate, then others only
    while they score within ``margin`` of it (one of them may be the answer), up to four
    sentences, five for why/how/explain questions. A sentence repeating one already chosen, or one
    already ``said`` earlier in the conversation, is skipped."""
    limit = 5 if wants_explanation(question) else 4
    chosen: list[Candidate] = []
    n_words = 0
    for c in ranked:
        if said_in(c.text, said, s):
            continue
        if chosen and (len(chosen) >= limit or chosen[0].score - c.score > s.margin):
            break
        if said_in(c.text, [other.text for other in chosen], s):
            continue
        n = len(c.text.split())
        if chosen and n_words + n > max_words:
            continue
        chosen.append(c)
        n_words += n
    return chosen


# "Who won the election and what was the turnout?": a second question in the same line (a wh-word
# and its verb after "and"; "Harry and which musician ...?" is one question).
_SECOND_QUESTION = re.compile(
    r",?\s+and\s+(?=(?:what|who|when|where|which|how(?:\s+(?:many|much|long|old))?)\s+"
    r"(?:was|is|are|were|did|does|do|will|would|has|have|had|can|could)\b)",
    re.I,
)
# The best sentence for a second question is added when it holds at least this share of its words.
PART_MIN_COVERAGE = 0.5


def question_parts(question: str) -> list[str]:
    """The questions one line asks: two or more when a second is joined by "and" (each with words
    of its own), else the line itself."""
    parts = [p.strip() for p in _SECOND_QUESTION.split(question)]
    return parts if len(parts) > 1 and all(content_words(p) for p in parts) else [question]


def not_said(best: Sequence[Candidate], last: Sequence[str], own: Mapping[str, float]) -> list[Candidate]:
    """A follow-up's answer among ``best``: what the last answer (``last``, its sentences) did not
    say. Unless the best of them was said there in passing and holds every word of the follow-up's
    own (``own``): it answers what is asked now, and is quoted again, alone. "and for electric
    cars?" after "Cars will pay a toll of 45 kroner each way; electric cars pay half. The toll
    will be collected for 15 years." got the EV market report. Never a whole answer again."""
    if best and own and len(last) > 1 and said_in(best[0].text, last) and own.keys() <= best[0].stems:
        return [best[0]]
    return [c for c in best if not said_in(c.text, last)]


def with_parts(
    question: str,
    chosen: Sequence[Candidate],
    top: Sequence[tuple[int, float]],
    passages: Mapping[int, str],
    titles: Mapping[int, str],
    *,
    max_words: int = MAX_WORDS,
) -> list[Candidate]:
    """The answer's sentences, with the best one for each further question of the line when the
    answer lacks it ("... and what was the turnout?" was left unanswered: the winner's sentence
    scored far above the turnout's)."""
    out = list(chosen)
    # From the passages the answer quotes: the second question is about the same story ("what
    # did she say?" would otherwise quote anyone who said anything).
    quoted = [(pid, score) for pid, score in top if any(c.passage_id == pid for c in chosen)]
    for part in question_parts(question)[1:]:
        ranked = candidates(part, stem_weights(content_words(part)), quoted, passages, titles)
        # The best sentence not already in the answer (the one before it may answer both).
        best = next((c for c in ranked if not said_in(c.text, [o.text for o in out])), None)
        n_words = sum(len(c.text.split()) for c in out) + (len(best.text.split()) if best else 0)
        if best and out and best.coverage >= PART_MIN_COVERAGE and n_words <= max_words:
            out.append(best)
    return out


def by_meaning(ranked: Sequence[Candidate], cosines: Sequence[float]) -> list[Candidate]:
    """The candidates closest in meaning to the question first (``cosines``, one per candidate, in
    ``ranked`` order; ties keep that order). For a follow-up whose own words no sentence holds
    ("when did they leave?" where the article says "withdrawal"): the words cannot tell which
    sentence answers it, the meaning can."""
    pairs = [(round(float(cos), 6), i, c) for i, (c, cos) in enumerate(zip(ranked, cosines, strict=True))]
    return [c for _, _, c in sorted(pairs, key=lambda p: (-p[0], p[1]))]


def after_said(
    ranked: Sequence[Candidate],
    said: Sequence[str],
    later_weight: float,
    weights: Mapping[str, float] | None = None,
) -> list[Candidate]:
    """ "And what did he say after that?": sentences after the last one already said, in its
    passage, move up by ``later_weight``; the order is otherwise kept. Elsewhere only sentences
    that hold a word of the question (``weights``, when given) in their own text are kept: "why?"
    after the council's decision on a warranty went on with the website's crash, from the same
    minutes, whose title names the council."""
    last: dict[int, int] = {}
    for c in ranked:
        if said_in(c.text, said):
            last[c.passage_id] = max(last.get(c.passage_id, -1), c.index)
    if not last:
        return list(ranked)

    def after(c: Candidate) -> bool:
        return c.passage_id in last and c.index > last[c.passage_id]

    def kept(c: Candidate) -> bool:
        return weights is None or after(c) or coverage(weights, text_stems(c.text)) > 0

    moved = [(c.score + later_weight * after(c), c) for c in ranked if kept(c)]
    return [c for _, c in sorted(moved, key=lambda sc: (-sc[0], sc[1].rank, sc[1].index))]


def said_in(sentence: str, said: Sequence[str], s: SentenceWeights = WEIGHTS) -> bool:
    """Whether ``sentence`` repeats one of ``said`` (``text.repeats``: ``repeat_overlap`` of its
    words or more, and no figure or name the other lacks)."""
    return any(repeats(sentence, earlier, s.repeat_overlap) for earlier in said)
