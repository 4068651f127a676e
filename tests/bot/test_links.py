"""Links back to sources: a cited document with a web address has its title linked in answers and
in each briefing story; anything else (a file, pasted text, a hostile origin) stays plain text."""

import dataclasses
import datetime as dt

import pytest

from bot import render
from bot.links import link_target
from knowledge.models import Answer, Briefing, Citation, Story


def cited(n: int, origin: str, title: str = "Ferry line reopens") -> Citation:
    return Citation(
        number=n,
        document_id=n,
        title=title,
        source="Harbour News",
        published=dt.date(2026, 3, 3),
        passage_id=100 + n,
        quote="The ferry line reopened on Tuesday.",
        paragraph_index=0,
        char_start=0,
        char_end=35,
        score=0.5,
        origin=origin,
    )


def test_an_answer_links_a_source_with_a_url_by_its_title():
    c = cited(1, "https://news.example/ferry")
    answer = Answer(question="Ferry?", text="It reopened [1].", citations=[c])
    [[embed]] = render.answer_messages(answer)
    assert (embed.fields[0].value or "").startswith("[Ferry line reopens](<https://news.example/ferry>) · Harbour News")


def test_a_briefing_story_links_its_sources():
    story = Story(
        headline="Ferry line reopens",
        summary="It reopened [1].",
        citations=[cited(1, "https://news.example/ferry"), cited(2, "notes.txt", title="Notes")],
        document_ids=[1, 2],
        sources=2,
    )
    b = Briefing(
        since=dt.datetime(2026, 3, 3, tzinfo=dt.UTC),
        until=dt.datetime(2026, 3, 4, tzinfo=dt.UTC),
        stories=[story],
        documents=2,
    )
    [[embed]] = render.briefing_messages(b)
    value = embed.fields[0].value or ""
    assert "[1] [Ferry line reopens](<https://news.example/ferry>) (2026-03-03)" in value
    assert "[2] Notes (2026-03-03)" in value


@pytest.mark.parametrize(
    "origin",
    ["notes.txt", "pasted text", "attachment x.pdf", "javascript:alert(1)", "https://a b.example/x", "https:///nohost"],
)
def test_an_origin_that_is_not_a_plain_web_address_is_not_linked(origin):
    assert link_target(origin) is None
    [[embed]] = render.answer_messages(Answer(question="q", text="t [1].", citations=[cited(1, origin)]))
    assert "](" not in (embed.fields[0].value or "")


def test_a_link_cannot_break_out_of_its_brackets_or_carry_credentials():
    assert link_target("https://user:pw@news.example/a_(b)[c]") == "https://news.example/a_%28b%29%5Bc%5D"
    c = dataclasses.replace(cited(1, "https://news.example/x"), title="Evil](https://phish.example) [x")
    [[embed]] = render.answer_messages(Answer(question="q", text="t [1].", citations=[c]))
    head = (embed.fields[0].value or "").split("\n")[0]
    assert head.count("](") == 1 and "phish.example)" not in head.split("](")[1]
