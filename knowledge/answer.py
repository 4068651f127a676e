"""Extractive answers: the sentence of the retrieved passages that answers the question first, then
only what adds to it, each quoted verbatim and cited to its document and place; or an honest
refusal with the closest passages.

No generative model runs here, so an answer is made only of sentences quoted from stored
documents. The steps:

1. the question is cleaned (greetings, empty or enormous questions get a reply of their own),
   resolved against the conversation (follow-ups) and its time words read (``dates``: "this week"
   opens a window, "latest" prefers newer documents; "in 2018" only ranks);
2. hybrid retrieval gives the candidate passages (``retrieval``), as of the time of asking (nothing
   published later), ranked with a mild recency prior and the question's own preferences;
3. every sentence of the best passages is scored against the question (``sentences``), and the
   best becomes the answer's first sentence;
4. the refusal model (``answerability``) reads the evidence of that answer: how much of the
   question it holds, never how big or old the collection is; ``read_question`` does steps 1-3,
   ``decide`` 4-5, so ``newsdesk eval refusals`` can read a question with some documents hidden
   (``Restriction``);
5. the answer is its first sentence, and more only while they may hold what was asked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from . import retrieval
from .about_documents import asks_about_document, asks_which_documents, document_named
from .answerability import ABSTAIN_BELOW, Evidence, answerability, gather_evidence, weak_match
from .briefing import about_document, overview_answer
from .conversation import conversation_first, talked_of
from .dates import DateIntent, format_date, parse_date_intent
from .models import Answer, Document, Passage
from .question import (
    MAX_QUESTION_CHARS,
    asks_for_dated_overview,
    asks_for_more,
    asks_for_overview,
    asks_the_clock,
    clean_question,
    clock_reply,
    earlier_answers,
    is_greeting,
    last_answer,
    more_topic,
    normalise_question,
    refers_back,
    resolve_follow_up,
    small_talk_reply,
    wants_later,
    without_framing,
)
from .replies import (
    ask_about_documents,
    chat,
    cite,
    documents_mentioning,
    nothing_found,
    nothing_more,
    refusal,
    related,
    when_note,
)
from .revisions import with_later_word
from .sentences import Candidate, after_said, by_meaning, candidates, not_said, said_in, select, with_parts
from .signals import answer_type, name_phrases
from .termweights import coverage, nothing_to_match, respelled, stem_weights, text_stems

if TYPE_CHECKING:
    from .corpus import Corpus

PASSAGES_READ = 6  # passages whose sentences are scored
MEANING_READ = 20  # sentences a follow-up whose words match none reads by meaning (~280 ms here)
# The reply when nothing is indexed at all (in the asker's scope): what to do, not "couldn't find".
NO_DOCUMENTS = "There are no documents to search yet: add some, then ask again."


@dataclass(frozen=True)
class AnswerSettings:
    """How retrieval's passages are ranked for an answer (ranking only: none of this decides
    whether to answer). README "Answers" gives the measurements behind each."""

    recency_weight: float = 1.5  # documents dated near the time of asking get up to this much extra
    recency_days: float = 14.0  # score, decaying over this many days
    about_weight: float = 0.5  # "in 2018": passages naming that year, or dated in or just after it
    phrase_weight: float = 1.0  # a passage holding a phrase the user quoted
    conversation_weight: float = 0.5  # the conversation's document, when it holds the question as well
    carried_weight: float = 0.25  # a follow-up's words carried from the question before
    later_weight: float = 1.0  # a follow-up asking what came next: sentences after the last one said
    abstain_below: float = ABSTAIN_BELOW  # probability of "answerable" under which we refuse


SETTINGS = AnswerSettings()


def recency_boost(published: dt.date | None, today: dt.date, s: AnswerSettings = SETTINGS) -> float:
    """Documents dated near the time of asking rank higher: of two equal matches, the fresher news.
    A ranking preference only. Undated: no boost."""
    if published is None:
        return 0.0
    return s.recency_weight * math.exp(-abs((today - published).days) / s.recency_days)


def about_boost(passage: str, published: dt.date | None, intent: DateIntent, s: AnswerSettings = SETTINGS) -> float:
    """For a question naming when something happened ("investment in 2018"): a passage naming that
    year, or a document dated in that period or the year after it (when it is looked back on)."""
    if intent.about_from is None and intent.about_to is None:
        return 0.0
    lo = intent.about_from or dt.date.min
    hi = intent.about_to or dt.date.max
    years = range(lo.year, min(hi.year, lo.year + 10) + 1) if intent.about_from else [hi.year]
    if any(re.search(rf"\b{y}\b", passage) for y in years):
        return s.about_weight
    if published is not None and lo <= published and (hi == dt.date.max or published.year <= hi.year + 1):
        return s.about_weight
    return 0.0


# ---------------------------------------------------------------------------- the answer


@dataclass(frozen=True)
class Restriction:
    """Documents hidden from one question without re-indexing, so an evaluation can turn an
    answerable question into a near miss: its own documents left out (leave-gold-out), or only
    documents dated before a day (a time split; undated documents drop out too)."""

    exclude_documents: frozenset[int] = frozenset()
    before: dt.date | None = None


@dataclass
class Reading:
    """Everything ``read_question`` found before deciding: the evidence for the refusal model,
    the sentences it would quote. ``reply`` is set when the question got a reply of its own
    (a greeting, nothing to search, nothing found) and there is nothing to decide."""

    question: str
    text: str = ""
    cut: bool = False
    respelled: str = ""  # "“Helvai” as “Helvia”": words of the question read as the passages spell them
    resolved: str = ""
    intent: DateIntent = field(default_factory=DateIntent)
    rows: dict[int, tuple[Passage, Document]] | None = None
    top: list[tuple[int, float]] | None = None
    ranked: list[Candidate] | None = None
    chosen: list[Candidate] | None = None
    evidence: Evidence | None = None
    phrase_found: bool = False
    follow_up: bool = False  # a follow-up asking what came next, after answers were given
    continued: bool = False  # ... answered from a passage already quoted: more on the same topic
    meaning_alone: bool = False  # no passage holds a word of the question: only the dense side found any
    undated: DateIntent | None = None  # "What happened in 2021?" with no document dated then
    reply: Answer | None = None


async def read_question(
    corpus: Corpus,
    question: str,
    *,
    scope: int | None = None,
    history: Sequence[str] = (),
    now: dt.datetime | None = None,
    settings: AnswerSettings = SETTINGS,
    restrict: Restriction | None = None,
    respell: bool = True,
) -> Reading:
    """Retrieval, sentence scoring and the refusal evidence for a question (steps 1-3). ``respell``:
    a misspelt name may be read as the one the passages found hold (once)."""
    now = now or dt.datetime.now(dt.UTC)
    question = normalise_question(question)
    text, cut = clean_question(question)
    if not text:
        return Reading(question, reply=ask_about_documents(question))
    if is_greeting(text):
        return Reading(question, reply=chat(question, small_talk_reply(text)))
    if asks_the_clock(text):  # "What day is it today?": the clock's, not the documents'
        return Reading(question, reply=chat(question, clock_reply(now)))
    if asks_for_overview(text):  # "What's new?": the newest documents' stories, not a search
        reply = await overview_answer(corpus, question, scope=scope, now=now)
        return Reading(question, reply=reply or chat(question, NO_DOCUMENTS))
    # A line of stopwords alone asks nothing ("the", "what?"), unless it points back at the
    # conversation: "and what did he say after that?" is a question only after an answer.
    if not retrieval.query_terms(text) and not (history and refers_back(text)):
        return Reading(question, reply=ask_about_documents(question))
    resolved = text if asks_for_dated_overview(text, now=now) else resolve_follow_up(text, history)
    if not retrieval.query_terms(resolved):
        return Reading(question, reply=ask_about_documents(question))
    more_about = bool(history) and resolved == text and asks_for_more(text)
    if more_about:  # "Tell me more about the strike": on the strike, what was not said yet
        resolved = more_topic(text)
    said = earlier_answers(history) if resolved != text else []
    more = bool(said) and (wants_later(text) or more_about)
    last = earlier_answers(last_answer(history)) if said else []
    intent = parse_date_intent(resolved, now=now)
    period = intent.period_as_window()  # "What happened in August?": no topic, only the period
    undated: DateIntent | None = None  # ... and no document dated in it: the text is read for it
    if not intent.window and intent.about_from and asks_for_overview(period.query, dated=True):
        # The documents of that period first; with none, the ones that tell of it: "What happened
        # in 2021?" over a rail project's timeline ("2021 – Kestrel Rail reports an overrun") is
        # a question about the text, as a year naming an event always is (issue 16 item 2).
        if reply := await overview_answer(corpus, question, scope=scope, now=now, intent=period):
            return Reading(question, reply=reply)
        undated = period
    elif intent.window and asks_for_overview(intent.query, dated=True):  # "What happened this week?"
        reply = await overview_answer(corpus, question, scope=scope, now=now, intent=intent)
        why = f"No document is dated {intent.describe()}."
        return Reading(question, reply=reply or refusal(question, resolved, intent, [], why=why))
    # With no document dated then, what is searched for is the period itself ("2021", "March 2021"):
    # "what happened" is no topic, and its meaning drew a meeting's minutes over the timeline.
    query = undated.phrase if undated else without_framing(intent.query)
    terms = retrieval.query_terms(query)
    if not undated and not any(re.search(r"[^\W\d_]", term) for term in terms):
        # Only numbers ("What is 2+2?", "2018?"): no word to match, and a sentence that happens to
        # hold the number is no answer. A follow-up ("and in 2019?") has its topic's words carried in.
        return Reading(question, reply=ask_about_documents(question))
    cands = await _restricted_candidates(corpus, query, scope, intent, restrict)
    if undated:  # the text that names the period; a bare date's meaning is any dated text's
        cands = replace(cands, dense={})
    fused = retrieval.fuse_scores(cands.dense, cands.bm25, bm25_exhaustive=cands.bm25_exhaustive)
    if not fused:
        # An empty collection (a fresh install started away from its seeds folder, or a guild
        # whose documents were all removed) says so: "couldn't find this" would read as if the
        # question were the problem.
        empty = restrict is None and not await corpus.store.count_documents(scope=scope)
        why = NO_DOCUMENTS if empty else _untold(undated) if undated else nothing_found(intent)
        return Reading(question, reply=refusal(question, resolved, intent, [], why=why))

    pool = retrieval.top_k(fused, PASSAGES_READ * 3)
    rows = await corpus.store.passages_with_documents([pid for pid, _ in pool])
    today = now.date()
    # As of the time of asking: a document published later could not have been read then (only
    # an evaluation asks in the past; search does the same).
    rows = {pid: row for pid, row in rows.items() if row[1].published is None or row[1].published <= today}
    found_texts = [f"{rows[pid][1].title} {rows[pid][0].text}" for pid, _ in pool if pid in rows]
    fixed, pairs = await asyncio.to_thread(respelled, text, found_texts) if respell else (text, [])
    if pairs:  # "Helvai": no passage holds it and English does not know it; one found holds "Helvia"
        again = await read_question(
            corpus, fixed, scope=scope, history=history, now=now, settings=settings, restrict=restrict, respell=False
        )
        again.question, again.respelled = question, ", ".join(f"“{typed}” as “{read}”" for typed, read in pairs)
        again.reply = again.reply and replace(again.reply, question=question)
        return again
    phrases = retrieval.quoted_phrases(text)
    scores = _prefer({pid: score for pid, score in pool if pid in rows}, phrases, intent, rows, today, settings)
    if talked := await talked_of(corpus, earlier_answers(last_answer(history)), scope, cands.query_vector):
        scores = await asyncio.to_thread(conversation_first, scores, rows, talked, terms, settings.conversation_weight)
    top = retrieval.top_k(scores, PASSAGES_READ)
    if not top:  # every candidate was removed between ranking and loading, or is from later
        return Reading(question, reply=refusal(question, resolved, intent, [], why=nothing_found(intent)))
    if topic := asks_which_documents(text):  # "Which documents mention Gdansk?": each, with its line
        found = [r for r in pool if r[0] in rows]
        return Reading(question, reply=await asyncio.to_thread(documents_mentioning, question, topic, found, rows))
    if field := asks_about_document(text):  # "Who wrote it?", "Summarize the report": the document it names
        # In a conversation, "the report" it points at is the one just quoted (first on a tie).
        found = sorted((rows[pid] for pid, _ in pool if pid in rows), key=lambda row: row[1].id not in talked)
        named = document_named(terms, found)
        return Reading(question, reply=await about_document(corpus, question, named, field))
    floor = min(cands.dense.values(), default=0.0)
    if not cands.bm25 and await asyncio.to_thread(
        nothing_to_match, query, [f"{rows[pid][1].title} {rows[pid][0].text}" for pid, _ in top]
    ):
        # A keyboard mash ("qwertyuiop"): no document holds any of its words, and none is English
        # or a misspelling of a word read. Only the dense side found anything, and its cosine with
        # such a line is noise. Nothing to show as related either.
        return Reading(question, reply=refusal(question, resolved, intent, [], why=nothing_found(intent)))

    def read() -> tuple[list[Candidate], list[Candidate], Evidence | None]:
        # Stemming, sentence splitting and scoring are CPU work (the first use imports NLTK and
        # the word list): one trip off the event loop for all of it.
        weights = stem_weights(terms)
        own = stem_weights(retrieval.query_terms(text)) if resolved != text and not more_about else {}
        choose = weights
        if own:
            # A follow-up's own words say what is asked now ("and wheat, where did it go?"); the
            # words carried from the question before only say what about, and count less. To
            # choose its sentence only the carried names count: "formed" carried from "When was
            # the CSTO formed?" must not pull the answer to "and when will they leave?" back to it.
            names = text_stems(" ".join(name_phrases(resolved)))
            weights = {k: w * (1.0 if k in own else settings.carried_weight) for k, w in weights.items()}
            # Without a question word of its own ("and in 4.1?" after "What was fixed in version
            # 4.2?") it asks the question before again, of something else: all its words count.
            again = not answer_type(text)
            choose = {k: w for k, w in weights.items() if k in own or k in names or again}
        passages = {pid: rows[pid][0].text for pid, _ in top}
        titles = {pid: rows[pid][1].title for pid, _ in top}
        # The follow-up's own question word says what kind of answer is asked ("where" in "and
        # wheat, where did it go?", not the "how much" carried from before).
        asks = text if own and answer_type(text) else resolved
        ranked = candidates(resolved, choose, top, passages, titles, asks=asks)
        if more:
            # "What else?", "after that?": only what was not said in the conversation.
            ranked = after_said(ranked, said, settings.later_weight, None if more_about else choose)
            # More on the story told, from the documents quoted ("tell me more" after the grain got the troops).
            told = {rows[c.passage_id][1].id for c in ranked if said_in(c.text, said)}
            ranked = [c for c in ranked if rows[c.passage_id][1].id in told] if told else ranked
            if more_about:  # only passages on the topic: past them, the documents hold no more on it
                on = {p for p in passages if coverage(choose, text_stems(f"{titles[p]} {passages[p]}")) > 0}
                ranked = [c for c in ranked if c.passage_id in on]
            chosen = select(resolved, ranked, said=said)
        elif own and not any(own.keys() & c.stems for c in ranked):
            # "when did they leave?" after the troops' arrival: no sentence holds "leave" (the
            # article says "withdrawal"), so its words cannot choose. Its own meaning chooses one
            # among the sentences of the topic's passages (with the carried question embedded
            # too, the topic drowned what is asked now); when that one was just said, the
            # documents hold nothing more on it, as below. Only here: on the dev sets the
            # meaning gave no gain when the words do match (sentences.py).
            # Among the passages on the topic: "and the opportunity?" after the freight outlook's
            # risk was read as the port interview's "No one will be laid off".
            carried = {k: w for k, w in weights.items() if k not in own}
            topic = [
                c for c in ranked if coverage(carried, text_stems(f"{titles[c.passage_id]} {passages[c.passage_id]}"))
            ]
            head = (topic or list(ranked))[:MEANING_READ]
            vectors = corpus.embedder.encode([text] + [c.text for c in head])
            best = by_meaning(head, (vectors[1:] @ vectors[0]).tolist())[:1]
            chosen = [c for c in best if not said_in(c.text, last)]
        else:
            # Another question on the topic ("and how long did the strike last?") may quote a
            # sentence said earlier in the conversation: it is the answer. Of the answer just
            # given it repeats nothing: what is new among the best sentences comes first and
            # alone, and when all of them were just said, the documents hold nothing more on it
            # (sentences further down would answer something else).
            chosen = with_parts(text, not_said(select(resolved, ranked), last, own), top, passages, titles)
            chosen = with_later_word(chosen, ranked, {pid: rows[pid][1].published for pid, _ in top})
        if not chosen:
            return ranked, chosen, None
        passage, doc = rows[chosen[0].passage_id]
        evidence = gather_evidence(
            resolved,
            weights,
            answer_sentences=[c.text for c in chosen],
            cited_title=doc.title,
            cited_passage=passage.text,
            cited_cosine=cands.dense.get(passage.id, floor),
            top_texts=[f"{rows[pid][1].title}\n{rows[pid][0].text}" for pid, _ in top],
            cited_date=doc.published,
            time_words=intent.time_words,
            today=intent.date_to or today,
            asks=asks,
        )
        return ranked, chosen, evidence

    ranked, chosen, evidence = await asyncio.to_thread(read)
    if not ranked:
        return Reading(
            question, reply=refusal(question, resolved, intent, related(rows, top), why=nothing_found(intent))
        )
    if not chosen:  # a follow-up: every candidate said already, or all the best just said
        return Reading(question, reply=nothing_more(question, resolved, intent))
    phrase_found = bool(phrases) and any(p.lower() in rows[chosen[0].passage_id][0].text.lower() for p in phrases)
    # "tell me more": a sentence of a document quoted is more on its story, whatever it holds of the question.
    continued = more and any(
        said_in(c.text, said) and rows[c.passage_id][1].id == rows[chosen[0].passage_id][1].id for c in ranked
    )
    return Reading(
        question,
        text=text,
        cut=cut,
        resolved=resolved,
        intent=intent,
        rows=rows,
        top=top,
        ranked=ranked,
        chosen=chosen,
        evidence=evidence,
        phrase_found=phrase_found,
        follow_up=more,
        continued=continued,
        meaning_alone=not cands.bm25,
        undated=undated,
    )


async def _restricted_candidates(
    corpus: Corpus, query: str, scope: int | None, intent: DateIntent, restrict: Restriction | None
) -> retrieval.Candidates:
    if restrict is None:
        return await retrieval.candidates(
            corpus, query, scope=scope, date_from=intent.date_from, date_to=intent.date_to
        )
    date_to = intent.date_to
    if restrict.before is not None:
        last = restrict.before - dt.timedelta(days=1)
        date_to = last if date_to is None else min(date_to, last)
    hidden = {p.id for p in await corpus.store.passages_of_documents(sorted(restrict.exclude_documents))}
    # Asking for as many more candidates as are hidden, then dropping them, gives exactly the
    # candidates of an index without them.
    n = retrieval.CANDIDATES + len(hidden)
    cands = await retrieval.candidates(corpus, query, scope=scope, date_from=intent.date_from, date_to=date_to, n=n)

    def keep(side: dict[int, float]) -> dict[int, float]:
        return dict(retrieval.top_k({p: s for p, s in side.items() if p not in hidden}, retrieval.CANDIDATES))

    bm25 = keep(cands.bm25)
    exhaustive = cands.bm25_exhaustive and len(bm25) < retrieval.CANDIDATES
    return retrieval.Candidates(keep(cands.dense), bm25, cands.query_vector, cands.snapshot, exhaustive)


def weakly_held(reading: Reading) -> bool:
    """Refused whatever the model's confidence (``answerability.weak_match``): only meaning ties
    what was found to the question, and weakly; not when the user's quoted words are there, or the
    passage talked of holds the question's words."""
    if reading.evidence is None:
        return False
    return weak_match(reading.evidence, meaning_alone=reading.meaning_alone) and not (
        reading.phrase_found or reading.continued and not reading.meaning_alone
    )


def decide(reading: Reading, settings: AnswerSettings = SETTINGS, *, confidence: float | None = None) -> Answer:
    """Answer or refuse (steps 4-5). ``confidence``: a probability from another refusal model (for
    evaluation); by default the shipped one."""
    if reading.reply is not None:
        return reading.reply
    question, resolved, intent, rows, top = (
        reading.question,
        reading.resolved,
        reading.intent,
        reading.rows,
        reading.top,
    )
    # A reading without a reply has read the passages: all of these are set.
    assert reading.evidence is not None and rows is not None and top is not None and reading.chosen is not None
    conf = answerability(reading.evidence) if confidence is None else confidence
    if reading.phrase_found or reading.continued:
        conf = max(conf, 0.9)  # the exact words the user quoted are there, or the passage talked of
    weak_meaning = weakly_held(reading)
    # A telephone number, an e-mail or web address is there or not, and is told without doubt:
    # "What's the phone number of the library?" was answered with the FAQ's late fees. So is the
    # holder of a role: "Who is the CEO of Ledgerly?" was answered with its release notes.
    e = reading.evidence
    not_there = bool(e.type_missing) and answer_type(resolved) == "contact" or e.role_missing
    if reading.undated and not reading.evidence.lead_coverage:
        # Nothing is dated then, and the sentence found holds nothing of the period either.
        return refusal(question, resolved, intent, [], confidence=conf, why=_untold(reading.undated))
    if conf < settings.abstain_below or weak_meaning or not_there:
        if reading.follow_up:
            return nothing_more(question, resolved, intent, confidence=conf)
        why = nothing_found(intent) if intent.window else "I couldn't find this in the documents."
        return refusal(question, resolved, intent, related(rows, top), confidence=conf, why=why)

    citations, parts = cite(reading.chosen, rows)
    body = " ".join(parts)
    if reading.respelled:
        body = f"(I read {reading.respelled}.) " + body
    if reading.cut:
        body = f"(Your question was long; I used its first {MAX_QUESTION_CHARS} characters.) " + body
    if intent.window or intent.recency:
        dated = sorted({(c.published, c.published_precision) for c in citations if c.published}, reverse=True)
        shown = list(dict.fromkeys(format_date(d, p) for d, p in dated))
        when = f"Sources dated {', '.join(shown[:3])}" if shown else "The sources are undated"
        body = f"{body}\n({when}; you asked for {intent.describe()}.)"
    if answer_type(resolved) == "date":  # "When did she die?": "on Saturday" as a date
        first, cited = reading.chosen[0], citations[0]
        body += when_note(first, cited.published, cited.published_precision, resolved)
    return Answer(
        question=question,
        text=body,
        citations=citations,
        abstained=False,
        resolved_question=resolved if resolved != reading.text else "",
        date_from=intent.date_from,
        date_to=intent.date_to,
        confidence=round(conf, 4),
    )


def _untold(period: DateIntent) -> str:
    return f"No document is dated {period.describe()}, and none I found tells of it."


def _prefer(
    scores: dict[int, float],
    phrases: list[str],
    intent: DateIntent,
    rows: Mapping[int, tuple[Passage, Document]],
    today: dt.date,
    settings: AnswerSettings = SETTINGS,
) -> dict[int, float]:
    """Boosts on top of retrieval, applied only to candidates retrieval already found: a passage
    holding a quoted phrase exactly, documents dated near the time of asking, passages about the
    period the question names, and for "latest" questions the newest of the candidates. They rank;
    none of them decides whether to answer."""
    out = dict(scores)
    dated = sorted({d.published for _, d in rows.values() if d.published}, reverse=True)
    for pid in out:
        passage, doc = rows[pid]
        if phrases and any(p.lower() in passage.text.lower() for p in phrases):
            out[pid] += settings.phrase_weight
        out[pid] += recency_boost(doc.published, today, settings)
        out[pid] += about_boost(passage.text, doc.published, intent, settings)
        if intent.recency and doc.published:
            out[pid] += 1.0 - dated.index(doc.published) / max(1, len(dated))
    return out
