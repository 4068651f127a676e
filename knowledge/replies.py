"""What a reply looks like when it is built: citations of the chosen sentences, refusals (with
the closest passages), and the replies that are no answer from the documents. Pure functions over
what ``answer`` read."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

from .dates import WEEKDAYS, DateIntent
from .models import Answer, Citation, Document, Passage
from .sentences import Candidate, candidates
from .signals import has_answer_of_type
from .termweights import coverage, is_past, stem_weights, text_stems
from .text import content_words, is_heading, split_sentences

RELATED_SHOWN = 3
MENTIONS_SHOWN = 10  # "Which documents mention X?": at most this many listed
MENTION_MIN_COVERAGE = 0.5  # ... a document holding at least this share of X's words (weighted)


def chat(question: str, text: str) -> Answer:
    """A reply that is no answer from the documents and no refusal (small talk, the date)."""
    return Answer(question=question, abstained=False, citations=[], text=text)


def ask_about_documents(question: str) -> Answer:
    """The reply to a line with nothing to search for."""
    example = "“What did the experts say about China's role in Central Asia?”"
    return Answer(question, f"Ask me a question about the documents, for example: {example}", [], abstained=True)


def cite(chosen: Sequence[Candidate], rows: Mapping[int, tuple[Passage, Document]]) -> tuple[list[Citation], list[str]]:
    """One citation per passage (numbered in the answer's order) quoting its chosen sentences; each
    answer sentence carries its passage's marker."""
    numbers: dict[int, int] = {}
    spans: dict[int, list[Candidate]] = {}
    parts = []
    for sent in chosen:
        n = numbers.setdefault(sent.passage_id, len(numbers) + 1)
        spans.setdefault(sent.passage_id, []).append(sent)
        parts.append(f"{sent.text} [{n}]")
    citations = []
    for pid, n in numbers.items():
        passage, doc = rows[pid]
        group = spans[pid]
        start, end = min(s.start for s in group), max(s.end for s in group)
        citations.append(citation(n, passage, doc, start, end, max(s.score for s in group)))
    return citations, parts


def citation(number: int, passage: Passage, doc: Document, start: int, end: int, score: float) -> Citation:
    span = (passage.char_start + start, passage.char_start + end)
    return Citation.of(
        number, doc, passage, passage.text[start:end], paragraph_of(passage, start), span, round(float(score), 4)
    )


def paragraph_of(passage: Passage, offset: int) -> int:
    """Paragraph of an offset inside a passage that may span several (joined by a blank line)."""
    return passage.paragraph_index + passage.text.count("\n\n", 0, offset)


def related(rows: Mapping[int, tuple[Passage, Document]], top: Sequence[tuple[int, float]]) -> list[Citation]:
    out = []
    for pid, score in top[:RELATED_SHOWN]:
        passage, doc = rows[pid]
        # Its opening, up to two sentences past a heading ("3. German launch") or a fragment.
        first = [s for s in split_sentences(passage.text) if len(s.text.split()) >= 3 and not is_heading(s.text)]
        end = first[min(1, len(first) - 1)].end if first else len(passage.text)
        out.append(citation(len(out) + 1, passage, doc, 0, end, score))
    return out


_NAMED_DAY = re.compile(rf"\b(?:(?P<word>next|last|on)\s+)?(?P<day>{'|'.join(WEEKDAYS)}|yesterday)\b", re.I)
_CLAUSE_WORD = re.compile(r"[A-Za-z]+")


def named_days(sentence: str, published: dt.date) -> list[tuple[str, dt.date]]:
    """The days ``sentence`` names by weekday or "yesterday", as dates by its document's date: the
    latest such day up to it when its clause tells of the past ("died on Saturday", "last Friday"),
    the next after it when it looks ahead ("will meet on Friday", "next Friday").
    Neither ("Rovers travel to Eastport on Wednesday", "The pool is open on Monday"): no date, as
    a guess could be a week off."""
    out: list[tuple[str, dt.date]] = []
    for m in _NAMED_DAY.finditer(sentence):
        word = m["day"]
        # Lowercase words only: "Manchester United" is a name, not a verb's past.
        before = [w for w in _CLAUSE_WORD.findall(re.split(r"[.!?;]", sentence[: m.start()])[-1]) if w.islower()]
        if word.lower() == "yesterday":
            out.append((word, published - dt.timedelta(days=1)))
            continue
        day = WEEKDAYS[word.lower()]
        said = (m["word"] or "").lower()
        if said == "next" or {"will", "would"} & set(before):
            out.append((word, published + dt.timedelta(days=(day - published.weekday() - 1) % 7 + 1)))
        elif said == "last" or said == "on" and any(is_past(w) for w in before):
            # Not "The meeting has moved to Thursday": the day the past verb tells of is "on" it.
            # "Last Friday" on a Friday is a week before.
            back = (published.weekday() - day) % 7 or (7 if said == "last" else 0)
            out.append((word, published - dt.timedelta(days=back)))
    return list(dict.fromkeys(out))


def day_note(sentence: str, published: dt.date | None, precision: str) -> str:
    """The note under an answer whose first sentence names days by weekday, when its document is
    dated to the day: (Saturday: 2025-03-01, by the source's date.); else nothing."""
    if published is None or precision != "day":
        return ""
    days = named_days(sentence, published)
    return f"\n({'; '.join(f'{word}: {day.isoformat()}' for word, day in days)}, by the source's date.)" if days else ""


def when_note(first: Candidate, published: dt.date | None, precision: str, question: str) -> str:
    """The note under a "when" answer: the dates of the weekdays its first sentence names
    (``day_note``), or, when the sentence holds no date and the heading it stands under does,
    that heading: "When is Apple Pay coming?" over a roadmap got "• Apple Pay and Google Pay at
    checkout", and its "Q1 2027" only in the heading above it, which the quote leaves out."""
    if has_answer_of_type("date", [first.text], question) or not first.heading:
        return day_note(first.text, published, precision)
    return f"\n(Under “{first.heading}”.)" if has_answer_of_type("date", [first.heading], question) else ""


def nothing_found(intent: DateIntent) -> str:
    if intent.window:
        return f"I found nothing in the documents dated {intent.describe()} about this."
    return "I couldn't find this in the documents."


def nothing_more(question: str, resolved: str, intent: DateIntent, *, confidence: float = 0.0) -> Answer:
    """A follow-up the documents hold nothing new for: said instead of repeating the last answer."""
    why = "The documents hold nothing more on this than what I said."
    return refusal(question, resolved, intent, [], why=why, confidence=confidence)


def refusal(
    question: str, resolved: str, intent: DateIntent, related: list[Citation], *, why: str, confidence: float = 0.0
) -> Answer:
    text = why
    if related:
        text += " These passages are the closest I have; they may be related:"
    return Answer(
        question=question,
        text=text,
        citations=[],
        abstained=True,
        related=related,
        resolved_question=resolved if resolved != question else "",
        date_from=intent.date_from,
        date_to=intent.date_to,
        confidence=round(confidence, 4),
    )


def documents_mentioning(
    question: str, topic: str, top: Sequence[tuple[int, float]], rows: Mapping[int, tuple[Passage, Document]]
) -> Answer:
    """ "Which documents mention Gdansk?": each document of the passages found (``top``, best
    first) whose title and passage hold ``topic``, with its sentence that holds most of it."""
    weights = stem_weights(content_words(topic))
    best: dict[int, Candidate] = {}  # per document, its first (best-ranked) passage's best sentence
    for pid, score in top:
        passage, doc = rows[pid]
        if doc.id in best or coverage(weights, text_stems(f"{doc.title} {passage.text}")) < MENTION_MIN_COVERAGE:
            continue
        ranked = candidates(topic, weights, [(pid, score)], {pid: passage.text}, {pid: doc.title})
        if ranked:
            best[doc.id] = ranked[0]
    chosen = list(best.values())[:MENTIONS_SHOWN]
    if not chosen:
        return Answer(question, f"No document here mentions “{topic}”.", [], abstained=True)
    citations, parts = cite(chosen, rows)
    lines = [f"{rows[c.passage_id][1].title}: {part}" for c, part in zip(chosen, parts, strict=True)]
    # "these": the documents of the passages read, not a count of the whole collection.
    these = f"these {len(chosen)} documents" if len(chosen) > 1 else "this document"
    opening = f"“{topic}” is mentioned in {these}{' (and more)' if len(best) > len(chosen) else ''}:"
    return Answer(question, "\n\n".join([opening, *lines]), citations, confidence=1.0)
