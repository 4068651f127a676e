"""Answers that hold on a team's own collection (issue 16), with the real model: a handful of
documents asked about months later. Refusals come from the evidence, never from how many
documents there are or how old they are; the answer comes first; the same question always gets
the same answer."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from knowledge import KnowledgeBase, KnowledgeConfig
from knowledge.answer import decide, read_question
from knowledge.answerability import FEATURES, MEANING_ALONE_MIN_COSINE, Evidence, weak_match
from knowledge.question import Reply

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
# The seed article is from January 2022; a team asks about it now, years later, or on its day.
SEED_DAY = dt.datetime(2022, 1, 14, 18, 0, tzinfo=dt.UTC)
YEARS_LATER = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)

OTHERS = [
    (
        "Riverside Bakery wins the regional bread award",
        dt.date(2026, 11, 28),
        "The Riverside Bakery on Main Street won the regional bread award on Saturday. Owner Anna Kowalski "
        "said the sourdough recipe came from her grandmother. The bakery opened in 1998 and employs twelve "
        "people.",
    ),
    (
        "Council approves bike lanes on Harbor Avenue",
        dt.date(2026, 11, 30),
        "The city council voted 7 to 2 on Monday to add protected bike lanes on Harbor Avenue. Construction "
        "will begin in April and cost about 3.2 million dollars.",
    ),
]

OFF_TOPIC = [
    "What is the weather like in Paris tomorrow?",
    "asdf qwerty blorp zxcv",
    "How many people died in the unrest?",
    "Who painted the Mona Lisa?",
]
# Lines the seed does not answer that are still answered (README, "Limits"): the CSTO's troops
# for NATO's, and no Belarus in the seed. They stay in the determinism test below.
NEAR_MISSES = [
    "How many troops did NATO send to Ukraine?",
    "How many troops did Belarus contribute to the CSTO mission?",
]
# (question, words the answer's first sentence must hold)
ANSWERABLE = [
    ("How many troops did the CSTO send to Kazakhstan?", "2,500"),
    ("When was the CSTO formed?", "2002"),
    ("How much did Chinese investment in Central Asia reach in 2018?", "14.7 billion"),
    ("Who is Yang Shu?", "Lanzhou University"),
    # It opened with a quote that only writes "CSTO".
    ("What is the CSTO?", "Collective Security Treaty Organisation"),
]


async def _open(path: Path, embedder, *, others: bool) -> KnowledgeBase:
    kb = await KnowledgeBase.open(KnowledgeConfig(db=path), embedder=embedder)
    await kb.index_paths([SEEDS])
    if others:
        for title, published, text in OTHERS:
            await kb.add_text(text, title=title, source="Test Wire", published=published)
    return kb


@contextlib.asynccontextmanager
async def _collection(tmp_path: Path, embedder, documents) -> AsyncIterator[KnowledgeBase]:
    """A team's own few documents (title, date, text), in a fresh store."""
    kb = await KnowledgeBase.open(KnowledgeConfig(db=tmp_path / "kb.db"), embedder=embedder)
    try:
        for title, published, text in documents:
            await kb.add_text(text, title=title, source="Test Wire", published=published)
        yield kb
    finally:
        await kb.close()


@pytest.fixture(scope="module")
async def seed_only(tmp_path_factory, real_embedder):
    kb = await _open(tmp_path_factory.mktemp("seed") / "kb.db", real_embedder, others=False)
    yield kb
    await kb.close()


@pytest.fixture(scope="module")
async def seed_and_two(tmp_path_factory, real_embedder):
    kb = await _open(tmp_path_factory.mktemp("three") / "kb.db", real_embedder, others=True)
    yield kb
    await kb.close()


@pytest.mark.model
@pytest.mark.parametrize("question", OFF_TOPIC)
@pytest.mark.parametrize("when", [SEED_DAY, YEARS_LATER], ids=["on its day", "years later"])
async def test_the_seed_alone_refuses_what_it_does_not_hold(seed_only, question, when):
    answer = await seed_only.ask(question, now=when)
    assert answer.abstained, answer.text


@pytest.mark.model
@pytest.mark.parametrize(("question", "expected"), ANSWERABLE)
@pytest.mark.parametrize("which", ["seed alone", "seed and two others"])
@pytest.mark.parametrize("when", [SEED_DAY, YEARS_LATER], ids=["on its day", "years later"])
async def test_what_the_seed_holds_is_answered_first_in_any_collection_at_any_time(
    seed_only, seed_and_two, question, expected, which, when
):
    kb = seed_only if which == "seed alone" else seed_and_two
    answer = await kb.ask(question, now=when)
    assert not answer.abstained, answer.text
    first = answer.text.split(" [1]")[0]
    assert expected in first, answer.text
    # Old documents answering a timeless question are an answer, shown with their date.
    # (the seed's date comes from its file name: 2022)
    assert answer.citations[0].published == dt.date(2022, 1, 1)


@pytest.mark.model
@pytest.mark.parametrize("which", ["seed alone", "seed and two others"])
async def test_the_decision_is_the_same_on_the_day_and_years_later(seed_only, seed_and_two, which):
    kb = seed_only if which == "seed alone" else seed_and_two
    for question in OFF_TOPIC + NEAR_MISSES + [q for q, _ in ANSWERABLE]:
        on_the_day = await kb.ask(question, now=SEED_DAY)
        later = await kb.ask(question, now=YEARS_LATER)
        assert on_the_day.abstained == later.abstained, question
        if which == "seed alone":
            # The same documents at both times: the same evidence, to the digit. (With the two
            # others, on the seed's day they were not yet published and are not read.)
            assert on_the_day.confidence == later.confidence, question


# Asked the day after the two others were published: their week is "this weekend" and "today".
JUST_AFTER = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.mark.model
@pytest.mark.parametrize(
    "question",
    ["Is it going to rain this weekend?", "What time does the sun set today?", "What should I eat for dinner tonight?"],
)
async def test_time_words_alone_do_not_make_this_week_s_news_an_answer(seed_and_two, question):
    """A line with time words once got the week's bike-lane story as its answer: time words made any
    recent passage look likely, whatever it was about."""
    answer = await seed_and_two.ask(question, now=JUST_AFTER)
    assert answer.abstained, answer.text


@pytest.mark.model
async def test_time_words_still_prefer_the_week_s_news_when_it_is_on_topic(seed_and_two):
    answer = await seed_and_two.ask("What did the city council vote on this week?", now=JUST_AFTER)
    assert not answer.abstained, answer.text
    assert "bike lanes" in answer.text.split(" [1]")[0]


@pytest.mark.model
@pytest.mark.parametrize("when", [SEED_DAY, YEARS_LATER], ids=["on its day", "years later"])
async def test_a_line_of_unknown_words_is_refused_without_related_passages(seed_only, when):
    """ "qwertyuiop" was answered with whatever passage its (meaningless) vector fell nearest."""
    answer = await seed_only.ask("qwertyuiop", now=when)
    assert answer.abstained and not answer.related, answer.text
    # A question around a misspelt name is no mash (its other words are English): it is searched,
    # and the passage that spells the name right is found and shown (the refusal model then weighs
    # it: a name it cannot match counts as missing).
    typo = await seed_only.ask("Who is Tokaev?", now=when)
    assert any("Tokayev" in c.quote for c in typo.shown), typo.text
    # ... and read as the name the passages found spell: it is answered, saying so.
    assert not typo.abstained and typo.text.startswith("(I read “Tokaev” as “Tokayev”.) "), typo.text


@pytest.mark.model
@pytest.mark.parametrize("line", ["What is photosynthesis?", "hmm", "zzzz", "Which animal is the fastest?"])
@pytest.mark.parametrize("when", [SEED_DAY, YEARS_LATER], ids=["on its day", "years later"])
async def test_a_line_no_passage_shares_a_word_with_needs_a_clear_meaning_to_be_answered(seed_and_two, line, when):
    # No document holds a word of these: only the dense side finds a passage, at a cosine that
    # says little. In small collections the refusal model answered such lines now and then with
    # whatever passage came nearest (probability 0.10-0.26); here even a confident model refuses.
    reading = await read_question(seed_and_two, line, now=when)
    assert reading.meaning_alone and reading.evidence is not None
    assert reading.evidence.cited_cosine < MEANING_ALONE_MIN_COSINE
    assert decide(reading, confidence=0.9).abstained
    assert (await seed_and_two.ask(line, now=when)).abstained


ODD_NEWS = [
    ("Apple chief's pay", dt.date(2023, 1, 13), "Tim Cook, CEO of Apple, took home nearly $100 million last year."),
    ("Wakanda series", dt.date(2023, 2, 2), "Wakanda is one of the primary settings of the Black Panther franchise."),
]


@pytest.mark.model
@pytest.mark.parametrize("line", ["How do I cook rice?", "What is a black hole?"])
async def test_a_passage_holding_one_word_of_a_question_but_its_rarest_needs_a_clear_meaning(
    tmp_path, real_embedder, line
):
    # "How do I cook rice?" was answered with Tim Cook's pay, "What is a black hole?" with the
    # Black Panther franchise: the passage holds one of the question's words, not its rarest, and
    # means something else (cosine below 0.3). The refusal model gave them 0.13-0.16.
    async with _collection(tmp_path, real_embedder, ODD_NEWS) as kb:
        reading = await read_question(kb, line, now=YEARS_LATER)
        assert reading.evidence is not None and not reading.meaning_alone
        assert reading.evidence.one_word and reading.evidence.rarest_missing
        assert weak_match(reading.evidence, meaning_alone=False)
        assert decide(reading, confidence=0.9).abstained
        # What the passages are about is still answered.
        pay = await kb.ask("How much did Tim Cook take home?", now=YEARS_LATER)
    assert pay.text.startswith("Tim Cook, CEO of Apple"), pay.text


def test_one_word_of_a_question_needs_a_clear_meaning_only_when_its_rarest_is_missing():
    base = Evidence(**dict.fromkeys(FEATURES, 0.0))
    weak = replace(base, one_word=True, rarest_missing=1.0, cited_cosine=0.29)
    assert weak_match(weak, meaning_alone=False)
    assert not weak_match(replace(weak, cited_cosine=0.3), meaning_alone=False)
    # "What does the union want?": the passage holds "union", the rarer word; left to the model.
    assert not weak_match(replace(weak, rarest_missing=0.0), meaning_alone=False)
    assert not weak_match(replace(weak, one_word=False), meaning_alone=False)
    assert weak_match(replace(base, cited_cosine=0.2), meaning_alone=True)


@pytest.mark.model
async def test_a_question_sharing_a_word_with_a_passage_is_left_to_the_refusal_model(seed_and_two):
    reading = await read_question(seed_and_two, "How many troops did the CSTO send to Kazakhstan?", now=YEARS_LATER)
    assert not reading.meaning_alone
    assert not decide(reading, confidence=0.9).abstained and decide(reading, confidence=0.01).abstained


@pytest.mark.model
async def test_a_year_in_the_question_is_not_a_publication_window(seed_and_two):
    answer = await seed_and_two.ask("How much did Chinese investment in Central Asia reach in 2018?", now=YEARS_LATER)
    assert not answer.abstained
    assert answer.date_from is None and answer.date_to is None
    assert "dated from 2018" not in answer.text and "14.7 billion" in answer.text


@pytest.mark.model
async def test_a_follow_up_in_a_small_collection_is_answered(seed_and_two):
    first = await seed_and_two.ask("When was the CSTO formed?", now=YEARS_LATER)
    assert not first.abstained and "2002" in first.text
    # The bot's first sentence as its answer (the words "formed" and "leave" share nothing: which
    # sentence says when they leave is for the follow-up to find among those not yet said).
    history = ["When was the CSTO formed?", first.text.split(" [1]")[0] + " [1]"]
    follow = await seed_and_two.ask("and when will they leave?", history=history, now=YEARS_LATER)
    assert not follow.abstained, follow.text
    assert "10 days" in follow.text.split(" [1]")[0], follow.text


@pytest.mark.model
async def test_a_follow_up_whose_words_no_sentence_holds_is_read_by_its_meaning(seed_only):
    first = await seed_only.ask("How many troops did Russia send?", now=YEARS_LATER)
    assert not first.abstained and "2,500" in first.text
    # "leave" is in no sentence (the article says "withdrawal"): by its words it got the troops
    # sentence again, and "nothing more"; and the "how many" it carried counted against the answer.
    history = ["How many troops did Russia send?", Reply(first.text)]
    follow = await seed_only.ask("when did they leave?", history=history, now=YEARS_LATER)
    assert not follow.abstained, follow.text
    assert "10 days" in follow.text.split(" [1]")[0], follow.text
    # What the documents hold on it was just said: no other sentence stands in for it.
    history += ["when did they leave?", Reply(follow.text)]
    again = await seed_only.ask("how long will they stay?", history=history, now=YEARS_LATER)
    assert not again.citations and "nothing more" in again.text, again.text


@pytest.mark.model
async def test_a_follow_up_asking_what_came_next_says_something_new(seed_only):
    first = await seed_only.ask("Who is the Kazakh president?", now=YEARS_LATER)
    assert not first.abstained and "Tokayev" in first.text
    history = ["Who is the Kazakh president?", first.text]
    follow = await seed_only.ask("and what did he say after that?", history=history, now=YEARS_LATER)
    # Every word of it is a stopword: only the conversation makes it a question, and it is
    # answered from the documents (it once got "Ask me a question about the documents").
    assert not follow.abstained and follow.citations, follow.text
    new = [c.quote for c in follow.citations]
    assert all(quote not in first.text for quote in new)
    # Without a conversation, or pointing at nothing, such a line asks nothing.
    alone = await seed_only.ask("and what did he say after that?", now=YEARS_LATER)
    stray = await seed_only.ask("the", history=history, now=YEARS_LATER)
    assert alone.text.startswith("Ask me a question") and stray.text.startswith("Ask me a question")
    # Asked again with both answers said, it still says nothing twice.
    history += ["and what did he say after that?", follow.text]
    again = await seed_only.ask("and what else?", history=history, now=YEARS_LATER)
    assert all(c.quote not in first.text + follow.text for c in again.citations)


# ---------------------------------------------------------------------------- determinism

_ASK_ALL = """
import asyncio, datetime as dt, json, sys
from knowledge import KnowledgeBase, KnowledgeConfig

async def main():
    kb = await KnowledgeBase.open(KnowledgeConfig(db=sys.argv[1]))
    out = []
    now = dt.datetime.fromisoformat(sys.argv[2])
    for q in json.loads(sys.argv[3]):
        a = await kb.ask(q, now=now)
        out.append([q, a.abstained, a.confidence, a.text, [(c.passage_id, c.quote) for c in a.citations]])
        hits = await kb.search(q, k=5, now=now)
        out.append([q, [(h.passage.id, h.score) for h in hits]])
    await kb.close()
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.mark.model
async def test_the_same_questions_get_the_same_answers_under_any_hash_seed(seed_and_two):
    """Issue 16: a decision once flipped with PYTHONHASHSEED (term weights built from a set, ties
    broken in hash order). Four processes, four seeds, one store: byte-identical output."""
    questions = OFF_TOPIC + NEAR_MISSES + [q for q, _ in ANSWERABLE] + ["Who is the president of Kazakhstan?"]
    db = str(seed_and_two.config.db)
    outputs = set()
    for seed in ("0", "1", "2", "3"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
        env |= {"PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
        done = subprocess.run(
            [sys.executable, "-c", _ASK_ALL, db, YEARS_LATER.isoformat(), json.dumps(questions)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,  # only bounds a hang
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.add(done.stdout.strip().splitlines()[-1])
    assert len(outputs) == 1


@pytest.mark.model
async def test_near_misses_have_less_evidence_than_answers(seed_only):
    """The two lines still answered (README, "Limits") score below every question the seed holds."""
    near = [(await seed_only.ask(q, now=YEARS_LATER)).confidence for q in NEAR_MISSES]
    held = [(await seed_only.ask(q, now=YEARS_LATER)).confidence for q, _ in ANSWERABLE]
    assert max(near) < min(held)


ARCHIVE = [
    (
        "ECB holds rates steady as inflation cools",
        dt.date(2026, 10, 29),
        "The European Central Bank kept its deposit rate at 2.25% on Thursday, the third meeting in a row "
        "without a change. ECB President Christine Lagarde said the bank was in a good place but warned that "
        "trade tensions could weigh on growth next year.",
    ),
    (
        "Rotterdam dockworkers strike over automation plans",
        dt.date(2026, 11, 30),
        "Hundreds of dockworkers at the port of Rotterdam walked off the job on Monday in a 48-hour strike "
        "over plans to automate two container terminals. The FNV union said the plans could cost 800 jobs.",
    ),
    (
        "Nordwave to cut 1,200 jobs as cloud sales slow",
        dt.date(2026, 9, 14),
        "Nordwave, the Swedish software maker, said on Monday it would cut about 1,200 jobs. Chief executive "
        "Lars Holm said the cuts would mostly hit sales and administration in Europe.",
    ),
]


@pytest.mark.model
@pytest.mark.parametrize("question", ["What do you know about Lagarde?", "Tell me about Lagarde", "Lagarde"])
async def test_a_name_only_an_older_document_holds_is_found_over_this_week_s_news(tmp_path, real_embedder, question):
    # Over a few documents the model's cosines with a name it does not know are all near zero, and
    # standardised they outvoted the one passage naming her: the answer was this week's strike, or
    # a refusal. The question's frame ("what do you know about") is no part of what is searched.
    async with _collection(tmp_path, real_embedder, ARCHIVE) as kb:
        answer = await kb.ask(question, now=dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC))
    assert not answer.abstained, answer.text
    assert answer.text.startswith("ECB President Christine Lagarde said"), answer.text


@pytest.mark.model
async def test_a_search_for_a_name_the_model_does_not_know_lists_the_passage_naming_it_first(tmp_path, real_embedder):
    # The dense side's near-zero cosines, standardised, put the Nordwave article first.
    async with _collection(tmp_path, real_embedder, ARCHIVE) as kb:
        hits = await kb.search("Lagarde")
    assert "Lagarde" in hits[0].passage.text


REFERENCE = [
    (
        "Kestrel Rail: a timeline of the Northline project",
        dt.date(2026, 10, 12),
        "The Northline high-speed rail line between Leeds and Newcastle has been delayed again.\n\n"
        "2017 – The government approves the Northline plan, budgeted at £4.1 billion.\n\n"
        "2021 – Kestrel Rail, the main contractor, reports a £600 million overrun.\n\n"
        "2026 – Opening is pushed from 2027 to 2029.",
    ),
    (
        "Harbour City Library: frequently asked questions",
        dt.date(2026, 11, 2),
        "Anyone who lives, works or studies in Harbour City can get a library card for free. The central "
        "library on Quay Street is open Monday to Saturday from 9am to 8pm, and on Sundays from noon to 5pm. "
        "The library stopped charging late fees in January 2024. Questions: write to ask@harbourlibrary.example.",
    ),
    (
        # What "what happened" means: the dense side put it first for "What happened in 2021?".
        "Editorial meeting minutes — 24 November 2026",
        dt.date(2026, 11, 24),
        "Present: Priya Nair, Johan Ek, Lars Holm, Sofia Berg. The weekend edition moves to Saturday morning "
        "from January 10. The next meeting is on December 8 at 10:00 in room 4B.",
    ),
]


@pytest.mark.model
async def test_a_year_or_a_weekday_that_is_no_publication_date_finds_what_tells_of_it(tmp_path, real_embedder):
    # "What happened in 2021?" was "No document is dated from 2021-01-01 to 2021-12-31" over a
    # timeline that has a line for 2021; "When is the central library open on Sunday?" read only
    # the past week's documents and was refused.
    async with _collection(tmp_path, real_embedder, REFERENCE) as kb:
        year = await kb.ask("What happened in 2021?", now=YEARS_LATER)
        sunday = await kb.ask("When is the central library open on Sunday?", now=YEARS_LATER)
        nothing = await kb.ask("What happened in 2019?", now=YEARS_LATER)
    assert not year.abstained and year.text.startswith("2021 – Kestrel Rail"), year.text
    assert not sunday.abstained and "on Sundays from noon" in sunday.text.split(" [1]")[0], sunday.text
    assert nothing.abstained, nothing.text
    assert nothing.text == "No document is dated from 2019-01-01 to 2019-12-31, and none I found tells of it."


@pytest.mark.model
async def test_a_phone_number_asked_for_is_given_or_refused_never_another_number(tmp_path, real_embedder):
    # "What's the phone number of the library?" was answered with the FAQ's late fees (a "number":
    # January 2024).
    async with _collection(tmp_path, real_embedder, REFERENCE) as kb:
        phone = await kb.ask("What's the phone number of the library?", now=YEARS_LATER)
        email = await kb.ask("What is the email address of the library?", now=YEARS_LATER)
    assert phone.abstained, phone.text
    assert not email.abstained and "ask@harbourlibrary.example" in email.text.split(" [1]")[0], email.text


STRIKES = [
    (
        "Copper hits record as Chilean mine strike enters third week",
        None,
        "Copper prices hit a record high of $12,450 a tonne on Wednesday as a strike at Chile's Escondida "
        "mine entered its third week.\n\nAbout 2,300 workers walked out demanding a bonus of 25 million pesos "
        "each. The union said on Tuesday it would not return to work before Christmas without a better offer.",
    ),
    (
        "Rotterdam dockworkers strike over automation",
        dt.date(2026, 11, 30),
        "Hundreds of dockworkers at the port of Rotterdam walked off the job on Monday in a 48-hour strike "
        "over plans to automate two container terminals.\n\nThe FNV union said the plans could cost 800 jobs "
        "by 2030.",
    ),
]


@pytest.mark.model
async def test_a_question_in_a_conversation_prefers_the_document_talked_of(tmp_path, real_embedder):
    # "what does the union want?" after an answer on the copper mine strike quoted the port's union
    # (a fresher document): the conversation's document now ranks first. Asked on its own, the
    # fresher one still does.
    async with _collection(tmp_path, real_embedder, STRIKES) as kb:
        first = await kb.ask("Why are copper prices rising?", now=YEARS_LATER)
        history = ["Why are copper prices rising?", Reply(first.text)]
        union = await kb.ask("what does the union want?", history=history, now=YEARS_LATER)
        alone = await kb.ask("what does the union want?", now=YEARS_LATER)
    assert first.text.startswith("Copper prices hit a record"), first.text
    assert union.text.startswith("The union said on Tuesday"), union.text
    assert alone.text.startswith("The FNV union said"), alone.text


PORTS = [
    (
        "Baltic Freight Outlook 2027",
        dt.date(2026, 11, 30),
        "Container volumes at Baltic ports are expected to grow 3.5% in 2027, as new rail links to Central "
        "Europe open.\n\nThe main risk is a slowdown in German industrial output, which accounts for a third "
        "of the region's transit cargo.\n\nRail freight between Poland and the Baltic states will get a boost "
        "when the Rail Baltica line opens its first section in 2028.",
    ),
    (
        "Interview: the port of Gdańsk's new director on automation",
        dt.date(2026, 10, 20),
        "Q: Why is the port investing in automated cranes?\nA: Ships are getting bigger and we need to unload "
        "them faster.\n\nQ: Will jobs be lost?\nA: No one will be laid off. About 150 crane operators will be "
        "retrained as remote operators by 2028.",
    ),
]


@pytest.mark.model
async def test_a_follow_up_read_by_its_meaning_stays_on_the_topic(tmp_path, real_embedder):
    # "and the opportunity?" after the freight outlook's main risk: no sentence says "opportunity",
    # and by meaning alone the port interview's "No one will be laid off" was chosen.
    async with _collection(tmp_path, real_embedder, PORTS) as kb:
        first = await kb.ask("What is the main risk for Baltic freight?", now=YEARS_LATER)
        history = ["What is the main risk for Baltic freight?", Reply(first.text)]
        then = await kb.ask("and the opportunity?", history=history, now=YEARS_LATER)
    assert "The main risk is a slowdown" in first.text, first.text
    assert "laid off" not in then.text, then.text
    assert {c.title for c in then.citations} <= {"Baltic Freight Outlook 2027"}


@pytest.mark.model
async def test_why_alone_after_an_answer_is_told_what_follows_it(tmp_path, real_embedder):
    # "why?" after "No one will be laid off." was "The documents hold nothing more on this".
    async with _collection(tmp_path, real_embedder, PORTS) as kb:
        first = await kb.ask("Will jobs be lost at the port?", now=YEARS_LATER)
        why = await kb.ask("why?", history=["Will jobs be lost at the port?", Reply(first.text)], now=YEARS_LATER)
    assert first.text.startswith("A: No one will be laid off."), first.text
    assert why.text.startswith("About 150 crane operators will be retrained"), why.text


OBITUARY = [
    (
        "Margarethe Olsen, marine biologist, dies at 91",
        dt.date(2025, 3, 3),
        "Margarethe Olsen, whose studies of cold-water coral reefs changed how Norway manages its fisheries, "
        "died on Saturday at her home in Bergen. She was 91.",
    ),
]


@pytest.mark.model
async def test_a_when_answer_that_names_a_weekday_is_given_its_date(tmp_path, real_embedder):
    # "When did Margarethe Olsen die?" answered "died on Saturday" and left the reader to count
    # back from the source's date (2025-03-03, a Monday).
    async with _collection(tmp_path, real_embedder, OBITUARY) as kb:
        when = await kb.ask("When did Margarethe Olsen die?", now=YEARS_LATER)
        where = await kb.ask("Where did Margarethe Olsen die?", now=YEARS_LATER)
    assert when.text.startswith("Margarethe Olsen, whose studies"), when.text
    assert when.text.endswith("\n(Saturday: 2025-03-01, by the source's date.)"), when.text
    assert not where.abstained and "by the source's date" not in where.text  # not asked when
