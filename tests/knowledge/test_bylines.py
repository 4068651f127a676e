"""A byline with the date on the line below ("By Maria Lindqvist", then "December 1, 2026") is read
as the document's author and date, and neither line is left in the stored text: readers join the
two lines (a wrapped line in plain text, a soft break in Markdown, ``<br>`` in HTML), and the
header rules must still see a byline and a date."""

from __future__ import annotations

import datetime as dt

import pytest
import pytest_asyncio

from knowledge.about_documents import asks_about_document, asks_for_author, asks_which_documents
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.question import Reply
from knowledge.service import KnowledgeBase

TITLE = "Harbour budget approved after long debate"
BODY = [
    "The city council approved the new harbour budget on Tuesday after a debate that lasted nine hours.",
    "The budget sets aside 40 million crowns for a new quay, and building starts in the spring.",
    "Opposition members said the plan leaves too little for dredging the old channel.",
]


def as_txt(byline: str, date: str) -> bytes:
    return "\n\n".join([TITLE, f"{byline}\n{date}", *BODY]).encode()


def as_md(byline: str, date: str) -> bytes:
    return "\n\n".join([f"# {TITLE}", f"{byline}\n{date}", *BODY]).encode()


def as_html(byline: str, date: str) -> bytes:
    paragraphs = "".join(f"<p>{p}</p>" for p in BODY)
    return (
        f"<!doctype html><html><head><title>{TITLE}</title></head><body><article><h1>{TITLE}</h1>"
        f"<p>{byline}<br>{date}</p>{paragraphs}</article></body></html>"
    ).encode()


FORMATS = {"news.txt": as_txt, "news.md": as_md, "news.html": as_html}


@pytest_asyncio.fixture(loop_scope="function")
async def kb(tmp_path):
    kb = await KnowledgeBase.open(KnowledgeConfig(db=tmp_path / "kb.db"), embedder=HashingEmbedder())
    yield kb
    await kb.close()


async def stored_text(kb: KnowledgeBase, doc_id: int) -> str:
    return " ".join(p.text for p in await kb.store.passages_of_documents([doc_id]))


@pytest.mark.parametrize("filename", sorted(FORMATS))
@pytest.mark.parametrize(
    "byline, date, author, source",
    [
        ("By Maria Lindqvist", "December 1, 2026", "Maria Lindqvist", None),
        ("By Maria Lindqvist", "Dec. 1, 2026", "Maria Lindqvist", None),
        ("By Maria Lindqvist", "2026-12-01", "Maria Lindqvist", None),
        ("By Maria Lindqvist", "1 December 2026", "Maria Lindqvist", None),
        ("By Maria Lindqvist", "December 1, 2026 10:42 AM CET", "Maria Lindqvist", None),
        ("By Maria Lindqvist and Jonas Berg", "Updated 1 Dec 2026, 09:15", "Maria Lindqvist and Jonas Berg", None),
        ("By Maria Lindqvist | Harbour Gazette", "December 1, 2026", "Maria Lindqvist", "Harbour Gazette"),
    ],
)
async def test_a_byline_over_a_date_is_metadata_and_not_text(kb, filename, byline, date, author, source):
    doc = await kb.add_bytes(FORMATS[filename](byline, date), filename)
    assert doc.author == author
    assert doc.published == dt.date(2026, 12, 1)
    if source:
        assert doc.source == source
    text = await stored_text(kb, doc.id)
    assert text.startswith(BODY[0])
    assert "Lindqvist" not in text and "2026" not in text and "Harbour Gazette" not in text


async def test_a_date_over_a_byline_is_read_too(kb):
    doc = await kb.add_bytes("\n\n".join([TITLE, "1 December 2026\nBy Maria Lindqvist", *BODY]).encode(), "a.txt")
    assert (doc.author, doc.published) == ("Maria Lindqvist", dt.date(2026, 12, 1))
    assert (await stored_text(kb, doc.id)).startswith(BODY[0])


@pytest.mark.parametrize(
    "text",
    [
        "\n\n".join([TITLE, "Analyst report, December 1, 2026", *BODY]),
        "\n\n".join([f"# {TITLE}", "*Analyst report, December 1, 2026*", *BODY]),  # Markdown italics
        "\n\n".join([TITLE, "Harbour Gazette, 1 December 2026", *BODY]),
    ],
)
async def test_a_label_set_off_from_its_date_by_a_comma_is_a_dateline(kb, text):
    # It stayed in the text, the document undated, and became an answer sentence of its own.
    doc = await kb.add_bytes(text.encode(), "report.md")
    assert doc.published == dt.date(2026, 12, 1)
    assert (await stored_text(kb, doc.id)).startswith(BODY[0])


@pytest.mark.parametrize(
    "line",
    [
        "Budget Day December 1, 2026",  # a name and a date, but no byline: a heading, kept
        "By December 1, 2026 the quay must be finished, the council said.",
    ],
)
async def test_a_line_that_only_looks_like_one_is_kept(kb, line):
    doc = await kb.add_bytes("\n\n".join([TITLE, line, *BODY]).encode(), "b.txt")
    assert line in await stored_text(kb, doc.id)
    assert doc.author is None


async def test_the_answer_opens_with_the_fact_not_the_byline(kb):
    await kb.add_bytes(as_txt("By Maria Lindqvist", "December 1, 2026"), "news.txt")
    answer = await kb.ask(
        "When did the city council approve the harbour budget?", now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
    )
    assert not answer.abstained
    assert "Lindqvist" not in answer.text
    assert answer.text.startswith("The city council approved")


async def test_who_wrote_it_is_answered_from_the_byline(kb):
    # The byline is metadata, out of the text, so no sentence could answer "who wrote it?": it got
    # the closest passages, or a quote naming someone else.
    await kb.add_bytes(as_txt("By Maria Lindqvist", "December 1, 2026"), "harbour.txt")
    await kb.add_text("A winter storm closed the port of Rotterdam for two days.", title="Storm closes port")
    history = ["When was the harbour budget approved?", Reply("The city council approved it on Tuesday. [1]")]
    for question, kw in (
        ("who wrote it?", {"history": history}),
        ("Who wrote the article about the harbour budget?", {}),
    ):
        answer = await kb.ask(question, **kw)
        assert not answer.abstained and answer.text == f"“{TITLE}” (2026-12-01) is by Maria Lindqvist.", answer.text
    unsigned = await kb.ask("Who is the author of the article on the Rotterdam storm?")
    assert unsigned.text == "“Storm closes port” names no author."
    # A question about who wrote something in the news is a question like any other.
    assert not asks_for_author("Who wrote the new harbour law?")
    assert not asks_for_author("Who was the journalist arrested in Moscow?")


@pytest.mark.parametrize(
    "closing, author",
    [
        ("Analyst: Tomas Reinholt", "Tomas Reinholt"),
        ("— Maria Lindqvist, senior correspondent", "Maria Lindqvist"),
        ("— Maria Lindqvist, senior correspondent.", "Maria Lindqvist"),
        ("Written by Jonas Berg, Oslo", "Jonas Berg"),
        ("Contact: Jonas Berg", None),  # who to ask, not who wrote it
        ("By Friday the quay was open.", None),  # a sentence
    ],
)
async def test_a_sign_off_closing_the_text_names_its_author(kb, closing, author):
    # A report signed at its end ("Analyst: Tomas Reinholt") was read as unsigned: "Who wrote the
    # note?" got "names no author". The line stays in the text, as everything the author wrote does.
    doc = await kb.add_bytes("\n\n".join([TITLE, *BODY, closing]).encode(), "signed.txt")
    assert doc.author == author
    assert closing in await stored_text(kb, doc.id)
    answer = await kb.ask("Who wrote the article about the harbour budget?")
    assert answer.text.endswith(f"is by {author}." if author else "names no author.")


async def test_who_wrote_it_in_a_conversation_is_asked_of_the_document_just_quoted(kb):
    # "Who prepared the report?" after an answer from the freight outlook named the meeting minutes'
    # author: the document was search's best for the question's words, not the one talked of.
    await kb.add_bytes(as_txt("By Maria Lindqvist", "December 1, 2026"), "harbour.txt")
    await kb.add_text("A winter storm closed the port of Rotterdam for two days.", title="Storm closes port")
    for quoted, expected in (
        (BODY[1], f"“{TITLE}” (2026-12-01) is by Maria Lindqvist."),
        ("A winter storm closed the port of Rotterdam for two days.", "“Storm closes port” names no author."),
    ):
        history = ["What is the latest?", Reply(f"{quoted} [1]")]
        assert (await kb.ask("Who wrote the article?", history=history)).text == expected


async def test_when_and_where_a_document_is_from_are_answered_from_its_metadata(kb):
    # They quoted the document's sentences, none of which says when it was published or by whom.
    await kb.add_bytes(as_txt("By Maria Lindqvist | Harbour Gazette", "December 1, 2026"), "harbour.txt")
    await kb.add_text("A winter storm closed the port of Rotterdam for two days.", title="Storm closes port")
    for question, expected in (
        ("When was the harbour budget article published?", f"“{TITLE}” is dated 2026-12-01."),
        (
            "What is the source of the article about the harbour budget?",
            f"“{TITLE}” (2026-12-01) is from Harbour Gazette.",
        ),
        ("When was the article on the Rotterdam storm written?", "“Storm closes port” has no date."),
        (
            "Which paper published the story about the Rotterdam storm?",
            "“Storm closes port” names no source; it was added from pasted text.",
        ),
    ):
        answer = await kb.ask(question)
        assert not answer.abstained and answer.text == expected, answer.text
    history = ["When was the harbour budget approved?", Reply("The city council approved it on Tuesday. [1]")]
    assert (await kb.ask("when was it published?", history=history)).text == f"“{TITLE}” is dated 2026-12-01."
    # Questions about the news are not about the document.
    for line in (
        "When was the CSTO formed?",
        "What is the source of the unrest?",
        "Who published the list of sanctions?",
    ):
        assert asks_about_document(line) is None, line


async def test_the_document_asked_about_is_the_one_its_words_name_title_included(kb):
    # "report" matched "reported" in the wildfire article, and "utilities" is only in the other's
    # title: the wildfire article's date was given.
    await kb.add_text(
        "We expect power prices in Germany to average 85 euros per megawatt-hour next year.",
        title="2027 Outlook: European Utilities",
        published=dt.date(2026, 11, 18),
    )
    await kb.add_text(
        "A wildfire burned 45,000 acres near Oroville. No deaths have been reported.",
        title="Wildfire forces thousands to evacuate",
        published=dt.date(2026, 8, 21),
    )
    answer = await kb.ask("When was the utilities report published?")
    assert answer.text == "“2027 Outlook: European Utilities” is dated 2026-11-18.", answer.text


async def test_a_document_named_is_summarised_by_its_lead_with_citations(kb):
    # "Summarize the harbour budget article" quoted the sentences holding its words, not the article.
    await kb.add_bytes(as_txt("By Maria Lindqvist", "December 1, 2026"), "harbour.txt")
    await kb.add_text("A winter storm closed the port of Rotterdam for two days.", title="Storm closes port")
    for question in ("Summarize the harbour budget article", "What does the article on the harbour budget say?"):
        answer = await kb.ask(question)
        assert answer.text.startswith(f"“{TITLE}” (2026-12-01), in brief: {BODY[0]} [1]"), answer.text
        assert [c.quote for c in answer.citations] == BODY[: len(answer.citations)] and len(answer.citations) >= 2
    # A document the collection does not hold is named by none: no summary of another one.
    for question in ("Summarize the Tesla report", "Who wrote the article on the Tesla layoffs?"):
        answer = await kb.ask(question)
        assert answer.abstained and answer.text == "I couldn't find a document on this.", answer.text
    assert asks_about_document("Who prepared the freight outlook?") == "author"


async def test_tell_me_about_a_document_is_its_summary_and_about_its_topic_a_question(kb):
    # "Tell me about the travel policy" quoted the minutes' "Corrections policy update" line first.
    await kb.add_text(
        "All business travel must be booked at least 14 days in advance. Economy class is the standard "
        "for all flights. Alcohol is not reimbursed.",
        title="Travel and expenses policy",
    )
    await kb.add_text("Owner: Priya Nair; Task: Corrections policy update; Due: December 15.", title="Minutes")
    answer = await kb.ask("Tell me about the travel policy")
    assert answer.text.startswith("“Travel and expenses policy”, in brief: All business travel"), answer.text
    # The policy's rule on one thing is a question about that thing; so is the news.
    for line in (
        "Tell me about the policy on alcohol",
        "Tell me about the strike",
        "Tell me about it",
        "Whose policy caused the crisis?",
        "When was the visa policy released?",
    ):
        assert asks_about_document(line) is None, line
    assert (await kb.ask("Tell me about the policy on alcohol")).text.startswith("Alcohol is not reimbursed.")


async def test_which_documents_mention_a_name_lists_each_with_its_line(kb):
    # "Which documents mention Gdansk?" quoted one sentence of one of them.
    await kb.add_text("Gdansk will remain the largest container port in the region.", title="Baltic freight outlook")
    await kb.add_text("The new director took over the port in June.", title="Interview: the port of Gdansk")
    await kb.add_text("A winter storm closed the port of Rotterdam for two days.", title="Storm closes port")
    answer = await kb.ask("Which documents mention Gdansk?")
    assert answer.text.startswith("“Gdansk” is mentioned in these 2 documents:"), answer.text
    assert {c.title for c in answer.citations} == {"Baltic freight outlook", "Interview: the port of Gdansk"}
    assert "Baltic freight outlook: Gdansk will remain the largest container port in the region. [" in answer.text
    missing = await kb.ask("What documents mention Tesla?")
    assert missing.abstained and missing.text == "No document here mentions “Tesla”.", missing.text
    assert asks_which_documents("list the articles about automation") == "automation"
    assert asks_which_documents("Which document is the oldest?") is None
