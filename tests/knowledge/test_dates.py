"""Date words become windows relative to the ``now`` passed in (a Saturday, 2026-11-28)."""

import datetime as dt

import pytest

from knowledge.dates import parse_date_intent, time_phrases
from knowledge.replies import day_note, named_days

NOW = dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("question", "date_from", "date_to"),
    [
        ("What happened yesterday in Kazakhstan?", dt.date(2026, 11, 27), dt.date(2026, 11, 27)),
        ("Any news today?", dt.date(2026, 11, 28), dt.date(2026, 11, 28)),
        ("What happened this week in Ukraine?", dt.date(2026, 11, 23), dt.date(2026, 11, 28)),
        ("What happened last week?", dt.date(2026, 11, 16), dt.date(2026, 11, 22)),
        ("What changed since March?", dt.date(2026, 3, 1), dt.date(2026, 11, 28)),
        ("What changed since March 2021?", dt.date(2021, 3, 1), dt.date(2026, 11, 28)),
        ("protests in the past 3 days", dt.date(2026, 11, 25), dt.date(2026, 11, 28)),
        ("protests in recent days", dt.date(2026, 11, 21), dt.date(2026, 11, 28)),
        ("Biden was sworn in on Wednesday; which president is he?", dt.date(2026, 11, 25), dt.date(2026, 11, 28)),
        ("Which team won last Sunday?", dt.date(2026, 11, 22), dt.date(2026, 11, 28)),
        ("What happened over the weekend?", dt.date(2026, 11, 28), dt.date(2026, 11, 28)),
        ("Who resigned two days ago?", dt.date(2026, 11, 24), dt.date(2026, 11, 28)),
        ("What changed since 2021?", dt.date(2021, 1, 1), dt.date(2026, 11, 28)),
        ("What changed since March 3rd?", dt.date(2026, 3, 3), dt.date(2026, 11, 28)),
        ("What changed since Dec 5, 2025?", dt.date(2025, 12, 5), dt.date(2026, 11, 28)),
        ("What changed since 2025-12-05?", dt.date(2025, 12, 5), dt.date(2026, 11, 28)),
    ],
)
def test_date_words_become_a_window(question, date_from, date_to):
    intent = parse_date_intent(question, now=NOW)
    assert (intent.date_from, intent.date_to) == (date_from, date_to)


@pytest.mark.parametrize(
    ("question", "about_from", "about_to"),
    [
        ("How much did Chinese investment in Central Asia reach in 2018?", dt.date(2018, 1, 1), dt.date(2018, 12, 31)),
        ("Who won in January 2022?", dt.date(2022, 1, 1), dt.date(2022, 1, 31)),
        ("troop numbers before 2020", None, dt.date(2019, 12, 31)),
        ("events on 2022-01-11", dt.date(2022, 1, 11), dt.date(2022, 1, 11)),
        ("What did the Fed decide in March?", dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
    ],
)
def test_a_date_that_names_when_something_happened_is_not_a_window(question, about_from, about_to):
    """Issue 16: "investment in 2018" is what the question is about, not when the article was
    published; a 2022 article giving the 2018 figure is evidence. The date stays in the query and
    only ranks (``about``)."""
    intent = parse_date_intent(question, now=NOW)
    assert not intent.window and not intent.time_words
    assert (intent.about_from, intent.about_to) == (about_from, about_to)
    assert intent.query == question


def test_time_words_and_an_event_date_together():
    intent = parse_date_intent("What was said this week about the 2022 election in 2022?", now=NOW)
    assert (intent.date_from, intent.date_to) == (dt.date(2026, 11, 23), dt.date(2026, 11, 28))
    assert intent.about_from == dt.date(2022, 1, 1)
    assert "this week" not in intent.query and "in 2022" in intent.query


def test_since_a_later_month_means_last_year():
    intent = parse_date_intent("since December", now=NOW)
    assert intent.date_from == dt.date(2025, 12, 1)


def test_latest_is_a_recency_preference_not_a_window():
    intent = parse_date_intent("What is the latest on the CSTO?", now=NOW)
    assert intent.recency and not intent.window
    assert "latest" not in intent.query.lower()
    assert "CSTO" in intent.query


def test_date_words_are_removed_from_the_query():
    intent = parse_date_intent("What did Wang Yi say yesterday?", now=NOW)
    assert intent.query == "What did Wang Yi say?"
    assert intent.phrase == "yesterday"


def test_question_without_date_words_is_untouched():
    intent = parse_date_intent("How many troops did the CSTO send?", now=NOW)
    assert not intent.window and not intent.recency
    assert intent.query == "How many troops did the CSTO send?"


def test_describe_names_the_window():
    assert parse_date_intent("news this year", now=NOW).describe() == "from 2026-01-01 to 2026-11-28"
    assert parse_date_intent("news yesterday", now=NOW).describe() == "on 2026-11-27"


def test_date_words_inside_a_quoted_phrase_are_left_alone():
    intent = parse_date_intent('Which article mentions "first increase since 2018"?', now=NOW)
    assert not intent.window
    assert intent.query == 'Which article mentions "first increase since 2018"?'


@pytest.mark.parametrize(
    "question",
    [
        "Who is the president of Kazakhstan now?",
        "As of now, who leads the talks?",
        "How many doses have been given so far?",
        "Which team will the newly signed striker join?",
        "What is the title of his upcoming memoir?",
        "Who leads the ongoing talks?",
        "Which vaccine will the FDA authorize next week?",
    ],
)
def test_words_about_what_is_going_on_now_ask_for_recent_news(question):
    intent = parse_date_intent(question, now=NOW)
    assert intent.recency and not intent.window, question


@pytest.mark.parametrize(
    "question",
    [
        "Who is known as the Iron Lady?",  # a word that contains "now"
        "The area now known as Jacksonville was inhabited by what people?",  # "now" names no time
        "What was the now-defunct airline called?",
    ],
)
def test_now_inside_a_question_is_not_a_time_word(question):
    intent = parse_date_intent(question, now=NOW)
    assert not intent.recency and intent.query == question


def test_the_weekend_before_a_noun_names_a_thing_not_a_time():
    # "When does the weekend edition move?" was searched only in documents dated last weekend.
    for question in ("When does the weekend edition move?", "Who edits the weekend paper?"):
        assert not parse_date_intent(question, now=NOW).window, question
    for question in ("What happened this weekend in Paris?", "Who won last weekend's race?"):
        assert parse_date_intent(question, now=NOW).window, question


def test_a_day_after_a_present_verb_is_every_such_day_not_a_date():
    # "When is the central library open on Sunday?" was searched only in the documents of the
    # past week, and the library's FAQ (dated a month earlier) was not read.
    for question, day in (
        ("When is the central library open on Sunday?", "Sunday"),
        ("Is the pool open on Monday?", "Monday"),
        ("Who is playing on Sunday?", "Sunday"),
    ):
        intent = parse_date_intent(question, now=NOW)
        assert not intent.window and day in intent.query, question
    # A past or future verb keeps it a date, as does a clause of its own without one.
    for question in (
        "What did the minister say on Tuesday?",
        "Who will speak on Friday?",
        "The UN marked World Refugee Day on Tuesday. How many refugees are there?",
        "What happened last Sunday?",
        "Is there news since Monday?",
    ):
        assert parse_date_intent(question, now=NOW).window, question


def test_a_named_period_can_be_taken_as_the_window_with_its_words_out():
    intent = parse_date_intent("What happened in August?", now=dt.date(2026, 12, 3))
    assert not intent.window and intent.about_phrase == "in August"
    period = intent.period_as_window()
    assert (period.date_from, period.date_to) == (dt.date(2026, 8, 1), dt.date(2026, 8, 31))
    assert period.query == "What happened?" and period.phrase == "in August"
    for line, phrase in (("Any news from August?", "from August"), ("Show me August news", "August")):
        assert parse_date_intent(line, now=dt.date(2026, 12, 3)).about_phrase == phrase
    # Without a named period there is nothing to take: the intent is kept as it is (it was the
    # query with a space put between every two letters).
    plain = parse_date_intent("Any news?", now=dt.date(2026, 12, 3))
    assert plain.period_as_window() == plain


def test_time_phrases_are_found_in_reading_order():
    assert time_phrases("What happened this week, and in August 2026?") == ["this week", "in August 2026"]
    assert time_phrases("Who won the election?") == []


# ---------------------------------------------------------------------------- days in answers

PUBLISHED = dt.date(2025, 3, 3)  # a Monday


@pytest.mark.parametrize(
    ("sentence", "days"),
    [
        ("Olsen died on Saturday at her home in Bergen.", [("Saturday", dt.date(2025, 3, 1))]),
        ("He resigned last Monday.", [("Monday", dt.date(2025, 2, 24))]),  # a week before, on a Monday
        ("He resigned on Monday.", [("Monday", dt.date(2025, 3, 3))]),
        ("The ministers will meet on Friday.", [("Friday", dt.date(2025, 3, 7))]),
        ("Talks resume next Monday.", [("Monday", dt.date(2025, 3, 10))]),
        ("It rained yesterday.", [("yesterday", dt.date(2025, 3, 2))]),
        # Neither past nor ahead, or the past verb tells of something else: no date to guess.
        ("Rovers travel to Eastport on Wednesday.", []),
        ("The pool is open on Monday.", []),
        ("The meeting has moved to Thursday at 7 pm.", []),
        ("Manchester United play on Saturday.", []),  # "United" is a name, not a past
    ],
)
def test_a_day_an_answer_names_by_weekday_is_dated_by_its_document(sentence, days):
    assert named_days(sentence, PUBLISHED) == days


def test_the_note_under_an_answer_dates_its_days_only_for_a_document_dated_to_the_day():
    sentence = "Olsen died on Saturday at her home in Bergen."
    assert day_note(sentence, PUBLISHED, "day") == "\n(Saturday: 2025-03-01, by the source's date.)"
    assert day_note(sentence, PUBLISHED, "year") == "" and day_note(sentence, None, "day") == ""
