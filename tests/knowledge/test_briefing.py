"""The briefing: story grouping and ordering as pure functions on hand-made numbers, then whole
briefings from a real KnowledgeBase on a temp SQLite file with the fast fake embedder."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import pytest_asyncio

from knowledge.answer import NO_DOCUMENTS
from knowledge.briefing import (
    central_member,
    containing_passage,
    format_briefing,
    group_stories,
    lead_member,
    near_duplicate,
    order_stories,
    shingles,
)
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.models import Briefing, Passage
from knowledge.question import Reply, asks_for_overview
from knowledge.service import KnowledgeBase

NOW = dt.datetime(2024, 5, 2, 8, 0, tzinfo=dt.UTC)

# ---------------------------------------------------------------------------- pure functions


def test_documents_above_the_threshold_form_one_story():
    sim = np.array([[1.0, 0.8, 0.1], [0.8, 1.0, 0.2], [0.1, 0.2, 1.0]])
    assert group_stories(sim, threshold=0.5) == [[0, 1], [2]]


def test_a_chain_of_similar_pairs_is_not_one_story():
    # 0~1 and 1~2 are close, 0 and 2 are not: average linkage keeps 2 apart (single linkage would not)
    sim = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.6], [0.0, 0.6, 1.0]])
    assert group_stories(sim, threshold=0.5) == [[0, 1], [2]]


def test_every_document_is_in_exactly_one_story():
    rng = np.random.default_rng(7)
    v = rng.normal(size=(12, 8))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    groups = group_stories(v @ v.T, threshold=0.3)
    assert sorted(i for g in groups for i in g) == list(range(12))


def test_no_documents_no_stories():
    assert group_stories(np.zeros((0, 0))) == []


def test_the_central_document_is_the_most_similar_to_the_others():
    sim = np.array([[1.0, 0.5, 0.4], [0.5, 1.0, 0.9], [0.4, 0.9, 1.0]])
    assert central_member(sim, [0, 1, 2]) == 1
    assert central_member(sim, [2]) == 2


def test_a_story_opens_with_its_newest_document_when_they_were_published_on_different_days():
    sim = np.array([[1.0, 0.5, 0.4], [0.5, 1.0, 0.9], [0.4, 0.9, 1.0]])
    may = [dt.date(2024, 5, 1), dt.date(2024, 5, 1), dt.date(2024, 5, 3)]
    assert lead_member(sim, [0, 1, 2], may) == 2  # the newest, though 1 is the most central
    assert lead_member(sim, [0, 1, 2], [may[0]] * 3) == 1  # one day: the most central
    assert lead_member(sim, [0, 1, 2], [None, None, None]) == 1
    assert (
        lead_member(sim, [0, 1, 2], [dt.date(2024, 5, 3), dt.date(2024, 5, 3), None]) == 1
    )  # of the newest, the central


def test_stories_with_more_sources_come_first_then_newer():
    groups = [[0], [1, 2], [3]]
    latest = [100.0, 10.0, 20.0, 300.0]
    assert order_stories(groups, latest) == [[1, 2], [3], [0]]


def test_near_duplicates_share_most_of_their_word_five_grams():
    article = (
        "The harbour workers ended their strike on Monday after the port authority agreed to raise wages "
        "by six percent and to hire more crane operators before the summer season begins."
    )
    syndicated = "LONDON (Wire) — " + article + " Copyright 2024 Wire Service."
    other = (
        "The port authority said on Monday that the harbour would reopen fully by Friday, with crane "
        "operators working double shifts to clear the backlog of ships."
    )
    assert near_duplicate(shingles(article), shingles(syndicated))
    assert not near_duplicate(shingles(article), shingles(other))
    assert not near_duplicate(shingles(""), shingles(article))


def test_the_passage_holding_a_sentence_is_found():
    passages = [Passage(1, 9, 0, 0, 0, 100, "x" * 100), Passage(2, 9, 1, 2, 102, 250, "y" * 148)]
    inside = containing_passage(passages, 110, 140)
    assert inside is not None and inside.id == 2
    straddling = containing_passage(passages, 90, 120)
    assert straddling is not None and straddling.id == 1  # straddles: the passage of its start
    assert containing_passage(passages, 400, 420) is None


def test_an_empty_briefing_says_nothing_is_new():
    since = NOW - dt.timedelta(hours=24)
    text = format_briefing(Briefing(since=since, until=NOW, stories=[], documents=0))
    assert text == "Nothing new since 2024-05-01 08:00 UTC."


# ---------------------------------------------------------------------------- through a KnowledgeBase

HARBOUR = [
    (
        "Harbour strike ends with pay deal",
        "Harbour workers in Porthaven ended their strike on Monday after the port authority agreed to a pay deal.\n\n"
        "The harbour strike had stopped all cargo ships in Porthaven for nine days, and crane operators "
        "said the pay deal gives them a six percent raise.\n\n"
        "The port authority said cargo ships would return to the harbour on Tuesday.",
    ),
    (
        "Porthaven port reopens as harbour strike ends",
        "The port authority in Porthaven reached a pay deal with striking harbour workers on Monday.\n\n"
        "Crane operators at the harbour accepted a six percent raise, ending a strike that stopped cargo ships "
        "for nine days.\n\n"
        "Cargo ships are expected back in the Porthaven harbour on Tuesday, the port authority said.",
    ),
    (
        "Harbour workers accept pay deal in Porthaven",
        "Striking harbour workers in Porthaven accepted the port authority's pay deal on Monday.\n\n"
        "The strike by crane operators had stopped cargo ships at the harbour for nine days; the pay deal "
        "gives crane operators a six percent raise.\n\n"
        "Cargo ships will return to Porthaven harbour on Tuesday.",
    ),
]
GLACIER = (
    "Glacier melt speeds up in the Alps",
    "Scientists measured the Rhone glacier melting faster than ever this spring, losing ice at record pace.\n\n"
    "Meltwater from the glacier raised the level of Lake Geneva, and researchers warned the glacier "
    "could vanish within decades.",
)
OLD = (
    "Library opens new reading room",
    "The city library opened a new reading room for students last month, with long desks and quiet hours.",
)


@pytest_asyncio.fixture
async def kb(tmp_path):
    kb = await KnowledgeBase.open(KnowledgeConfig(db=tmp_path / "kb.db"), embedder=HashingEmbedder())
    yield kb
    await kb.close()


async def _add(kb, title, text, *, hours_ago, source="Wire", published=None):
    return await kb.add_text(
        text, title=title, source=source, published=published, added_at=NOW - dt.timedelta(hours=hours_ago)
    )


@pytest_asyncio.fixture
async def newsroom(kb):
    """Three harbour articles and a glacier article added in the last day, a library article a week ago."""
    ids = {"harbour": [], "glacier": None, "old": None}
    for k, (title, text) in enumerate(HARBOUR):
        doc = await _add(kb, title, text, hours_ago=2 + k, source=f"Paper {k}", published=dt.date(2024, 5, 1))
        ids["harbour"].append(doc.id)
    ids["glacier"] = (await _add(kb, *GLACIER, hours_ago=1, published=dt.date(2024, 5, 2))).id
    ids["old"] = (await _add(kb, *OLD, hours_ago=24 * 7, published=dt.date(2024, 4, 20))).id
    return ids


async def test_same_story_articles_are_one_story_with_their_sources_counted(kb, newsroom):
    b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW)
    harbour = [s for s in b.stories if set(s.document_ids) & set(newsroom["harbour"])]
    assert len(harbour) == 1
    assert sorted(harbour[0].document_ids) == sorted(newsroom["harbour"])
    assert harbour[0].sources == 3


async def test_the_most_covered_story_comes_first(kb, newsroom):
    b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW)
    assert [s.sources for s in b.stories] == [3, 1]
    assert b.stories[1].document_ids == [newsroom["glacier"]]


async def test_headlines_are_document_titles(kb, newsroom):
    b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW)
    titles = {t for t, _ in HARBOUR} | {GLACIER[0]}
    assert all(s.headline in titles for s in b.stories)


async def test_a_story_that_developed_is_told_from_its_latest_news(kb):
    # Both added this morning: the strike's start (published on the 1st) and its end (the 3rd). The
    # briefing once opened with "the strike will continue", headed by the older title.
    begins = (
        "Harbour strike begins in Porthaven",
        "Harbour workers in Porthaven began a strike on Monday, and the port authority said cargo ships were "
        "stopped in the harbour.\n\nCrane operators said the strike over pay would continue for days.",
    )
    ends = (
        "Harbour strike ends in Porthaven",
        "Harbour workers in Porthaven ended their strike on Wednesday, and the port authority said cargo ships "
        "were moving in the harbour.\n\nCrane operators said the pay deal gives them a six percent raise.",
    )
    await _add(kb, *begins, hours_ago=3, published=dt.date(2024, 5, 1))
    newer = await _add(kb, *ends, hours_ago=2, published=dt.date(2024, 5, 3))
    b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW)
    [story] = b.stories
    assert story.sources == 2
    assert story.headline == "Harbour strike ends in Porthaven"
    assert story.citations[0].document_id == newer.id


async def test_only_documents_added_in_the_window_are_briefed(kb, newsroom):
    b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW)
    assert b.documents == 4
    assert newsroom["old"] not in {i for s in b.stories for i in s.document_ids}


async def test_published_dates_can_define_the_window(kb, newsroom):
    b = await kb.brief(since=dt.datetime(2024, 5, 2, tzinfo=dt.UTC), until=NOW, by="published")
    assert [s.document_ids for s in b.stories] == [[newsroom["glacier"]]]


async def test_every_sentence_is_cited_with_an_exact_quote_at_its_offsets(kb, newsroom):
    b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW)
    numbers = []
    for story in b.stories:
        assert 2 <= len(story.citations) <= 3
        passages = {p.id: p for p in await kb.store.passages_of_documents(story.document_ids)}
        for c in story.citations:
            text = await kb.store.document_text(c.document_id)
            assert text[c.char_start : c.char_end] == c.quote
            passage = passages[c.passage_id]
            assert passage.document_id == c.document_id
            assert passage.char_start <= c.char_start and c.char_end <= passage.char_end
            assert c.paragraph_index == text.count("\n\n", 0, c.char_start)
            assert f"{c.quote} [{c.number}]" in story.summary
            numbers.append(c.number)
    assert numbers == list(range(1, len(numbers) + 1))


async def test_the_briefing_stays_within_its_word_budget(kb, newsroom):
    for max_words in (25, 40, 80, 350):
        b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW, max_words=max_words)
        assert sum(len(c.quote.split()) for s in b.stories for c in s.citations) <= max_words
    b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW, max_words=25)
    assert len(b.stories) == 1 and "more story not shown" in b.text


async def test_the_text_lists_stories_with_their_numbered_sources(kb, newsroom):
    b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW)
    assert b.text.startswith("Briefing for 2024-05-01 08:00 UTC – 2024-05-02 08:00 UTC: 4 new documents")
    assert "(3 sources)" in b.text and "(1 source)" in b.text
    for c in (c for s in b.stories for c in s.citations):
        assert f"[{c.number}] {c.title}" in b.text


async def test_a_near_duplicate_is_merged_and_summarised_once(kb, newsroom):
    title, text = HARBOUR[0]
    copy = await _add(kb, title + " (syndicated)", "By Wire staff\n\n" + text, hours_ago=1, source="Other")
    b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW)
    story = next(s for s in b.stories if copy.id in s.document_ids)
    assert story.sources == 4
    quotes = [c.quote for c in story.citations]
    assert len(quotes) == len(set(quotes))


async def test_an_empty_window_gives_a_nothing_new_briefing(kb, newsroom):
    since = NOW + dt.timedelta(days=1)
    b = await kb.brief(since=since, until=since + dt.timedelta(hours=24))
    assert b.empty and b.documents == 0
    assert b.text == "Nothing new since 2024-05-03 08:00 UTC."


async def test_an_empty_knowledge_base_gives_a_nothing_new_briefing(kb):
    b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW)
    assert b.empty
    assert b.text.startswith("Nothing new since")


async def test_an_unknown_window_kind_is_refused(kb):
    with pytest.raises(ValueError):
        await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW, by="modified")


# ---------------------------------------------------------------------------- the real model

STORIES = [
    (
        "storm",
        "Storm Ilse cuts power to thousands on the coast",
        "Storm Ilse brought winds of 140 km/h to the northern coast overnight, cutting electricity to about "
        "40,000 homes.\n\nUtility crews expect to restore power by Thursday, and schools in three towns stayed closed.",
    ),
    (
        "storm",
        "Tens of thousands without electricity after Ilse",
        "About forty thousand households lost power when Storm Ilse hit the coast with hurricane-force gusts on "
        "Tuesday night.\n\nThe grid operator said repairs could take until Thursday; several coastal schools shut.",
    ),
    (
        "vote",
        "Parliament passes pension reform after all-night session",
        "Lawmakers approved the pension reform by 312 votes to 270 early on Wednesday, raising the retirement "
        "age to 65 over ten years.\n\nUnions called a national strike for next week in response.",
    ),
    (
        "vote",
        "Retirement age to rise to 65 as pension bill clears parliament",
        "The pension bill cleared parliament on Wednesday morning after a night of debate, lifting the retirement "
        "age gradually to 65.\n\nTrade unions announced a general strike against the reform.",
    ),
    (
        "football",
        "City win the cup in extra time",
        "City beat United 2-1 in extra time to win the national cup final on Saturday, with a late header from "
        "their captain.\n\nIt is the club's first cup title in twenty years.",
    ),
]


@pytest.mark.model
async def test_real_model_groups_reworded_reports_of_the_same_story(tmp_path, real_embedder):
    kb = await KnowledgeBase.open(KnowledgeConfig(db=tmp_path / "kb.db"), embedder=real_embedder)
    try:
        story_of = {}
        for k, (story, title, text) in enumerate(STORIES):
            doc = await _add(kb, title, text, hours_ago=1 + k)
            story_of[doc.id] = story
        b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW)
    finally:
        await kb.close()
    grouped = sorted(sorted(story_of[i] for i in s.document_ids) for s in b.stories)
    assert grouped == [["football"], ["storm", "storm"], ["vote", "vote"]]


async def test_a_date_known_only_by_its_year_is_briefed_as_the_year(kb):
    # Only a copyright footer dates this article: the briefing must not invent "2022-01-01".
    text = GLACIER[1] + "\n\n© 2022 Alpine Gazette. All rights reserved."
    doc = await kb.add_text(text, title=GLACIER[0], added_at=NOW - dt.timedelta(hours=1))
    assert (doc.published, doc.published_precision) == (dt.date(2022, 1, 1), "year")
    b = await kb.brief(since=NOW - dt.timedelta(hours=24), until=NOW)
    assert f"[1] {GLACIER[0]} — 2022" in b.text and "2022-01-01" not in b.text


async def test_whats_new_is_answered_with_the_newest_documents_stories(kb, newsroom):
    # A newcomer's first line names no topic: it was refused ("I couldn't find this"), or got
    # "ask me a question". It gets the stories of the newest documents, cited, whatever their age.
    later = NOW + dt.timedelta(days=400)
    for line in ("What's new?", "what are the documents about?", "Summarize the documents", "any news today?"):
        answer = await kb.ask(line, now=later)
        assert not answer.abstained and answer.text.startswith("The newest 5 documents"), answer.text
        assert answer.text.count("[") == len(answer.citations) > 0
        assert {c.document_id for c in answer.citations} >= {newsroom["glacier"], newsroom["harbour"][0]}
    # With a topic it is a question like any other.
    topical = await kb.ask("What is the latest news on the glacier?", now=later)
    assert not topical.text.startswith("The newest")


async def test_whats_new_in_an_empty_collection_says_there_is_nothing_yet(kb):
    answer = await kb.ask("What's new?", now=NOW)
    assert answer.text == NO_DOCUMENTS and not answer.citations


def test_an_overview_is_asked_only_without_a_topic():
    asked = ("whats new", "What’s the latest news?", "Can you give me an overview of the documents?", "recap")
    topical = ("What is the latest news on Ukraine?", "what do you know about Tokayev?", "summarize the strike")
    assert all(asks_for_overview(q) for q in asked)
    assert not any(asks_for_overview(q) for q in topical)


async def test_what_happened_this_week_tells_the_stories_of_the_documents_dated_in_it(kb, newsroom):
    # Thursday 2 May 2024: this week is 29 April to 2 May. The harbour and glacier articles are
    # dated in it, the library one (20 April) is not. It was "I found nothing ... about this".
    thursday = dt.datetime(2024, 5, 2, 12, tzinfo=dt.UTC)
    answer = await kb.ask("What happened this week?", now=thursday)
    assert not answer.abstained and answer.text.startswith("4 documents dated from 2024-04-29"), answer.text
    cited = {c.document_id for c in answer.citations}
    assert newsroom["glacier"] in cited and newsroom["old"] not in cited
    quiet = await kb.ask("what happened yesterday?", now=dt.datetime(2024, 5, 4, 12, tzinfo=dt.UTC))
    assert quiet.abstained and quiet.text == "No document is dated on 2024-05-03."
    # A topic makes it a question; without time words, "what happened?" is one too.
    assert not (await kb.ask("What happened to the glacier this week?", now=thursday)).text[0].isdigit()
    assert asks_for_overview("What happened?", dated=True) and not asks_for_overview("What happened?")


async def test_what_happened_in_a_named_month_tells_the_stories_of_the_documents_dated_in_it(kb, newsroom):
    # It was refused: "in April" names when something happened, which only ranks, and "what
    # happened" alone matched no sentence. With no topic, the period is all the line asks about.
    later = dt.datetime(2024, 11, 20, 12, tzinfo=dt.UTC)
    answer = await kb.ask("What happened in April?", now=later)
    assert not answer.abstained and answer.text.startswith("1 document dated from 2024-04-01 to 2024-04-30")
    assert {c.document_id for c in answer.citations} == {newsroom["old"]}
    may = await kb.ask("What was the news in May 2024?", now=later)
    cited = {c.document_id for c in may.citations}
    assert newsroom["glacier"] in cited and newsroom["old"] not in cited and cited & set(newsroom["harbour"])
    # With none dated in it, a year is searched for in the text (tests/knowledge/test_own_collection.py).
    empty = await kb.ask("What happened in 2019?", now=later)
    assert empty.abstained
    assert empty.text == "No document is dated from 2019-01-01 to 2019-12-31, and none I found tells of it."
    # With a topic, the month still only ranks.
    assert not (await kb.ask("What happened to the glacier in April?", now=later)).text[0].isdigit()


async def test_a_named_period_asked_in_other_words_or_as_a_follow_up_is_that_period(kb, newsroom):
    # "Any news from November?" was refused ("from" named no period), and after one overview
    # "Anything from October?" was read as a follow-up of it, the two months together.
    later = dt.datetime(2024, 11, 20, 12, tzinfo=dt.UTC)
    april = "1 document dated from 2024-04-01 to 2024-04-30"
    for line in ("Any news from April?", "Anything from April?", "Show me April news", "Was there news in April?"):
        assert (await kb.ask(line, now=later)).text.startswith(april), line
    first = await kb.ask("What was the news in May 2024?", now=later)
    history = ["What was the news in May 2024?", Reply(first.text)]
    assert (await kb.ask("Anything from April?", history=history, now=later)).text.startswith(april)
    # A period alone after it asks the same of that period; "this week" is not carried beside it.
    for line in ("and in April?", "what about April?"):
        assert (await kb.ask(line, history=history, now=later)).text.startswith(april), line
    thursday = dt.datetime(2024, 5, 2, 12, tzinfo=dt.UTC)
    history = ["What happened this week?", Reply((await kb.ask("What happened this week?", now=thursday)).text)]
    last_week = await kb.ask("and last week?", history=history, now=thursday)
    assert last_week.text == "No document is dated from 2024-04-22 to 2024-04-28.", last_week.text


async def test_how_many_documents_counts_them_all_and_tells_the_newest(kb):
    for k in range(12):
        await _add(
            kb, f"Ferry report {k}", f"Ferry line {k} changed its timetable for winter, operator {k} said.", hours_ago=k
        )
    answer = await kb.ask("How many documents do you have?", now=NOW)
    assert answer.text.startswith("12 documents in all; the newest 10, story by story:"), answer.text
    assert all(c.title != "Ferry report 11" for c in answer.citations)  # the oldest is not among them
    assert asks_for_overview("list the documents") and not asks_for_overview("list the CSTO's members")
