"""bot/render.py is pure: hand-made answers, briefings and documents in, embeds within every
Discord limit out."""

import datetime as dt

import discord
import pytest

from bot import render
from knowledge.models import Answer, Briefing, Citation, Document, Passage, SearchHit, Story


def citation(n: int, quote: str = "A quoted sentence.", title: str = "Title", **kw) -> Citation:
    return Citation(
        number=n,
        document_id=n,
        title=title,
        source=kw.get("source", "Reuters"),
        published=kw.get("published", dt.date(2022, 1, 6)),
        passage_id=100 + n,
        quote=quote,
        paragraph_index=kw.get("paragraph_index", 2),
        char_start=10,
        char_end=10 + len(quote),
        score=0.5,
    )


def answer(text: str = "Troops arrived [1].", citations=None, **kw) -> Answer:
    return Answer(
        question=kw.pop("question", "Who arrived?"),
        text=text,
        citations=[citation(1)] if citations is None else citations,
        **kw,
    )


def assert_within_limits(messages: list[list[discord.Embed]]) -> None:
    assert messages, "nothing rendered"
    for embeds in messages:
        assert 1 <= len(embeds) <= render.EMBEDS_PER_MESSAGE
        assert sum(len(e) for e in embeds) <= render.MESSAGE_EMBED_TOTAL
        for e in embeds:
            assert len(e.title or "") <= render.TITLE_LIMIT
            assert len(e.description or "") <= render.DESCRIPTION_LIMIT
            assert len(e.fields) <= render.FIELDS_PER_EMBED
            assert len(e.footer.text or "") <= render.FOOTER_LIMIT
            for f in e.fields:
                assert 0 < len(f.name or "") <= render.FIELD_NAME_LIMIT
                assert 0 < len(f.value or "") <= render.FIELD_VALUE_LIMIT


def all_text(messages) -> str:
    parts = []
    for embeds in messages:
        for e in embeds:
            parts += [e.title or "", e.description or "", e.footer.text or ""]
            parts += [f.name + "\n" + f.value for f in e.fields]
    return "\n".join(parts)


def test_answer_shows_text_markers_and_numbered_sources():
    a = answer(citations=[citation(1, "Troops arrived in January.", title="Kazakhstan", paragraph_index=0)])
    [[embed]] = render.answer_messages(a)
    assert embed.title == "Who arrived?"
    assert embed.description == "Troops arrived [1]."
    [field] = embed.fields
    assert field.name == "[1] Kazakhstan"
    assert field.value is not None
    assert "Reuters" in field.value and "2022-01-06" in field.value
    assert "> Troops arrived in January." in field.value
    assert "paragraph 1, characters 10–36" in field.value


def test_a_10000_character_passage_is_trimmed_within_limits():
    quote = ("word " * 2000).strip()  # 9,999 characters
    a = answer(citations=[citation(1, quote)])
    messages = render.answer_messages(a)
    assert_within_limits(messages)
    value = messages[0][0].fields[0].value
    assert value is not None
    assert "…" in value and len(value) < 1024


def test_a_10000_character_passage_on_a_sources_page_stays_within_limits():
    doc = Document(
        id=1,
        title="Long",
        source=None,
        published=None,
        author=None,
        guild_id=None,
        origin="x",
        content_hash="h",
        added_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    hits = [
        SearchHit(
            passage=Passage(
                id=i, document_id=1, ordinal=i, paragraph_index=i, char_start=0, char_end=10_000, text="x" * 10_000
            ),
            document=doc,
            score=1.0,
        )
        for i in range(9)
    ]
    embed, pages = render.sources_page(hits, 1, question="q")
    assert pages == 3
    assert_within_limits([[embed]])
    assert embed.footer.text == "Page 2 of 3"
    assert (embed.fields[0].name or "").startswith("[5]")


def test_overlong_answer_text_title_and_many_sources_are_split_never_failing():
    a = answer(
        text="Sentence about troops [1]. " * 700,
        question="why " * 200,
        citations=[citation(i, "q" * 2000, title="T" * 400) for i in range(1, 41)],
    )
    messages = render.answer_messages(a)
    assert_within_limits(messages)
    text = all_text(messages)
    for i in range(1, 41):
        assert f"[{i}] " in text  # every numbered source is still shown


def test_refusal_says_so_and_shows_the_closest_passages():
    a = Answer(
        question="Capital of Peru?",
        text="I couldn't find this in the documents.",
        citations=[],
        abstained=True,
        related=[citation(1, "Lima is mentioned here.", title="Andes")],
    )
    [[embed]] = render.answer_messages(a)
    assert (embed.title or "").startswith("No answer found")
    assert "closest passages" in (embed.description or "")
    assert embed.fields[0].name == "[1] Andes"


def test_everyone_and_user_mentions_are_neutralised():
    a = answer(
        text="Notice to @everyone and @here from <@123> and <@&456> [1].",
        citations=[citation(1, "Hey @everyone, read this")],
    )
    text = all_text(render.answer_messages(a))
    assert "@everyone" not in text and "@here" not in text
    assert "<@123>" not in text and "<@&456>" not in text
    assert f"@{render.ZWSP}everyone" in text  # still readable
    assert "@everyone" not in "".join(render.split_content("ping @everyone"))


def test_split_text_respects_the_limit_and_loses_nothing():
    text = "\n\n".join(f"Paragraph {i} " + "word " * (i * 37 % 300) for i in range(60))
    pieces = render.split_text(text, 500)
    assert all(0 < len(p) <= 500 for p in pieces)
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())


def test_split_text_cuts_a_single_huge_word():
    pieces = render.split_text("x" * 4500, 2000)
    assert [len(p) for p in pieces] == [2000, 2000, 500]


@pytest.mark.parametrize("limit", [1, 5, 256])
def test_trim_never_exceeds_the_limit(limit):
    assert len(render.trim("abc def " * 100, limit)) <= limit


def test_briefing_with_many_long_stories_fits():
    stories = [
        Story(
            headline="H" * 300,
            summary="Summary sentence [1]. " * 200,
            citations=[citation(1), citation(2)],
            document_ids=[1, 2],
            sources=2,
        )
        for _ in range(40)
    ]
    b = Briefing(
        since=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        until=dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        stories=stories,
        documents=80,
    )
    messages = render.briefing_messages(b)
    assert_within_limits(messages)
    assert sum(len(e.fields) for m in messages for e in m) == 40


def test_empty_briefing_says_nothing_new():
    b = Briefing(
        since=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        until=dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        stories=[],
        documents=0,
    )
    [[embed]] = render.briefing_messages(b)
    assert "Nothing new" in (embed.description or "")


def test_document_list_page_marks_scope():
    docs = [
        Document(
            id=i,
            title=f"Doc {i}",
            source="AP",
            published=None,
            author=None,
            guild_id=None if i % 2 else 7,
            origin="x",
            content_hash="h",
            added_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        )
        for i in range(1, 4)
    ]
    embed = render.document_list_page(docs, page=0, pages=2, total=13)
    assert embed.description is not None
    assert "🌐 `#1`" in embed.description and "📌 `#2`" in embed.description
    assert (embed.footer.text or "").startswith("Page 1 of 2 · 13 documents")


def test_stats_embed_shows_refusal_rate_and_feedback():
    stats = render.Stats(
        questions_per_day=[("2024-01-01", 3), ("2024-01-02", 1)],
        questions=4,
        refusals=1,
        thumbs_up=2,
        thumbs_down=1,
        unanswered=[("capital of peru?", 2)],
    )
    embed = render.stats_embed(stats)
    values = {f.name: f.value or "" for f in embed.fields}
    assert values["Refusal rate"] == "25% (1)"
    assert values["Feedback"] == "👍 2 · 👎 1"
    assert "2× capital of peru?" in values["Most frequent unanswered questions"]
    assert "`2024-01-02` 1" in values["Questions per day"]


def test_feed_list_line_shows_the_last_error():
    from bot.cogs.feeds import feed_line
    from knowledge.models import Feed

    at = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    feed = Feed(
        1,
        5,
        "https://x.example/rss",
        "X",
        at,
        last_error="x.example: the server answered 500",
        last_error_at=at,
        failures=2,
    )
    line = feed_line(feed)
    assert (
        "last success: never" in line and "last error 2026-01-02 03:04 UTC: x.example: the server answered 500" in line
    )


def test_counts_of_one_are_singular_everywhere_a_count_is_shown():
    doc = Document(
        id=4,
        title="Port strike",
        source=None,
        published=None,
        author=None,
        guild_id=None,
        origin="strike.txt",
        content_hash="h",
        added_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        passages=1,
        words=1,
    )
    story = Story(
        headline="Strike", summary="Workers stopped [1].", citations=[citation(1)], document_ids=[4], sources=1
    )
    one_story = Briefing(
        since=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        until=dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        stories=[story],
        documents=1,
    )
    shown = [
        render.document_added(doc),
        render.document_list_page([doc], page=0, pages=1, total=1).footer.text or "",
        all_text([[render.document_embed(doc)]]),
        all_text(render.briefing_messages(one_story)),
        all_text(render.answer_messages(answer())),
        render.stats_embed(render.Stats([], 0, 0, 0, 0, [], days=1)).title or "",
    ]
    text = "\n".join(shown)
    assert "1 passage," in text and "1 word" in text and "1 document ·" in text
    assert "1 story from 1 new document." in text and "1 source:" in text and "1 source ·" in text
    assert "Usage, last day" in text
    assert "(s)" not in text and "1 passages" not in text and "1 documents" not in text


def test_no_message_pluralises_with_a_bracketed_s():
    # "(s)" was how every count was written; plain.plural reads better ("1 passage", "2 passages").
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = []
    for path in [*root.glob("bot/**/*.py"), *root.glob("knowledge/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if "(s)" in node.value.replace("http(s)", ""):
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert found == []
