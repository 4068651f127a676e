"""The extractive summariser on small hand-made clusters whose right picks are known."""

from __future__ import annotations

from knowledge.summarize import summarize

FLOOD_A = (
    "Heavy rain flooded the river town of Millbrook on Tuesday, forcing hundreds of residents from their homes.\n\n"
    "Photo: Residents wade through water on Main Street (Getty Images)\n\n"
    "The mayor of Millbrook declared a state of emergency as the river rose above its banks overnight.\n\n"
    "Local bakeries reported a busy weekend before the storm arrived, with long queues for bread and pastries.\n\n"
    "Emergency crews used boats to rescue families trapped on the upper floors of their flooded homes."
)
FLOOD_B = (
    "Officials in Millbrook ordered evacuations after the river burst its banks and flooded homes across town.\n\n"
    "Rescue crews in boats pulled families from flooded homes as the water kept rising through the night.\n\n"
    "The town's football team postponed its match against a rival club because of the weather forecast.\n\n"
    "Share this story on Facebook and Twitter and sign up for our newsletter for more updates."
)
FLOOD_C = (
    "The river flooded Millbrook after two days of heavy rain, and the mayor declared a state of emergency.\n\n"
    "Forecasters expect the rain to ease by Thursday, although the river may stay high for several days.\n\n"
    "A local artist opened an exhibition of watercolour landscapes at the town library last month."
)
CLUSTER = [FLOOD_A, FLOOD_B, FLOOD_C]


def _words(sentences) -> list[int]:
    return [len(s.text.split()) for s in sentences]


def test_every_sentence_is_a_verbatim_slice_of_its_document():
    summary = summarize(CLUSTER, 60)
    assert summary
    for s in summary:
        assert CLUSTER[s.document][s.start : s.end] == s.text


def test_sentences_come_in_reading_order():
    summary = summarize(CLUSTER, 80)
    keys = [(s.document, s.start) for s in summary]
    assert keys == sorted(keys)


def test_summary_is_at_most_one_sentence_over_the_budget():
    for budget in (5, 20, 35, 50, 70, 90):
        lengths = _words(summarize(CLUSTER, budget))
        # the sentence that crossed the budget is the only one allowed past it
        assert sum(lengths) - max(lengths) < budget, budget


def test_strict_summary_never_exceeds_the_budget():
    for budget in (20, 35, 50, 70):
        assert sum(_words(summarize(CLUSTER, budget, strict=True))) <= budget


def test_summary_stops_once_the_budget_is_reached():
    lengths = _words(summarize(CLUSTER, 40))
    assert sum(lengths) >= 40


def test_max_sentences_caps_the_summary():
    assert len(summarize(CLUSTER, 500, max_sentences=2)) == 2


def test_what_several_articles_repeat_is_chosen_over_side_stories():
    text = " ".join(s.text for s in summarize(CLUSTER, 30))
    assert "flood" in text.lower()
    for side_story in ("bakeries", "football", "watercolour"):
        assert side_story not in text


def test_captions_and_share_prompts_are_never_chosen():
    text = " ".join(s.text for s in summarize(CLUSTER, 1000))
    assert "Photo:" not in text
    assert "newsletter" not in text


def test_an_opening_document_s_lead_comes_first_then_the_usual_choice():
    # FLOOD_B's lead is not what the cluster repeats most (its rescue sentence is chosen), but as
    # the newest news it opens the story.
    newest_first = [FLOOD_B, FLOOD_A, FLOOD_C]
    plain = summarize(newest_first, 40, strict=True)
    opened = summarize(newest_first, 40, strict=True, opening=True)
    lead = "Officials in Millbrook ordered evacuations after the river burst its banks and flooded homes across town."
    assert opened[0].document == 0 and opened[0].text == lead
    assert sum(_words(opened)) <= 40 and len(opened) > 1  # the budget rule still holds, and more follows
    assert [s.text for s in plain] != [s.text for s in opened]  # the opening changed the choice


def test_the_same_sentence_in_two_articles_is_chosen_once():
    shared = "The central bank raised interest rates by half a percentage point on Wednesday to fight inflation."
    docs = [
        shared + "\n\nMarkets fell sharply after the central bank announcement as investors sold shares in banks.",
        shared + "\n\nThe central bank governor said further increases in interest rates may follow this year.",
    ]
    texts = [s.text for s in summarize(docs, 60)]
    assert texts.count(shared) == 1


def test_a_single_article_starts_with_its_lead():
    article = (
        "The city council approved a new budget for public transport on Monday after a long debate.\n\n"
        "The plan adds twelve bus routes and extends the evening service of the tram lines by two hours.\n\n"
        "Some council members argued that the money should instead go to repairing roads and bridges.\n\n"
        "A spokesperson for the transport authority said the new routes would start running in the spring."
    )
    summary = summarize([article], 15)
    assert summary[0].position == 0
    assert summary[0].text.startswith("The city council approved")


def test_a_document_of_short_lines_still_gets_a_summary():
    note = "Server outage today.\n\nLogins failed for an hour.\n\nFixed at noon."
    summary = summarize([note], 10)
    assert summary
    assert all(note[s.start : s.end] == s.text for s in summary)


def test_a_short_document_s_headings_are_no_summary_sentences():
    # "summarize the roadmap" gave "Q1 2027" as a sentence: of short lines, all are usable, the
    # headings over them too.
    roadmap = "Q1 2027\n\n• Offline mode for the shopping list\n\nQ2 2027\n\n• Loyalty points\n\n• Dark mode"
    texts = [s.text for s in summarize([roadmap], 60)]
    assert texts == ["• Offline mode for the shopping list", "• Loyalty points", "• Dark mode"]


def test_nothing_to_summarise_gives_an_empty_summary():
    assert summarize([], 50) == []
    assert summarize(["", "   "], 50) == []
    assert summarize(CLUSTER, 0) == []


ARTICLE = (
    "WASHINGTON (CNN) -- The Senate passed a bill on Tuesday that funds the government through March "
    "and averts a shutdown.\n\n"
    "The vote was 68 to 31, with a group of Republicans joining Democrats to send the bill to the House.\n\n"
    "A photo of the vote tally was shared widely by senators who backed the measure.\n\n"
    "Lawmakers spent much of the autumn arguing over the size of the military budget and farm aid.\n\n"
    "Budget experts said interest costs on the debt will keep rising over the next ten years."
)


def test_a_single_article_summary_is_its_lead_in_order():
    summary = summarize([ARTICLE], 40)
    assert [s.position for s in summary] == list(range(len(summary)))
    assert "The vote was 68 to 31" in summary[1].text


def test_a_single_article_summary_starts_after_the_dateline():
    first = summarize([ARTICLE], 10)[0]
    assert first.text.startswith("The Senate passed a bill")
    assert ARTICLE[first.start : first.end] == first.text


def test_a_lead_sentence_that_mentions_a_photo_is_kept_but_a_caption_is_not():
    kept = " ".join(s.text for s in summarize([ARTICLE], 45))
    assert "A photo of the vote tally" in kept
    captioned = ARTICLE.replace("A photo of the vote tally", "Photo: the vote tally")
    skipped = " ".join(s.text for s in summarize([captioned], 45))
    assert "Photo:" not in skipped
    assert "Lawmakers spent much of the autumn" in skipped


def test_a_sentence_with_an_address_in_it_is_kept_but_a_handle_line_is_not():
    # "Tell me about the travel policy" left out its first rule: "@" in the address read as a handle.
    policy = (
        "All business travel must be booked through the travel desk (travel@northwind.example) at least "
        "14 days in advance.\n\nFollow @NorthwindTravel for updates on the new booking system.\n\n"
        "Economy class is the standard for all flights."
    )
    kept = [s.text for s in summarize([policy], 40)]
    assert kept[0].startswith("All business travel must be booked"), kept
    assert not any("@NorthwindTravel" in text for text in kept), kept


def test_a_line_that_only_points_at_what_follows_is_no_summary_sentence():
    # "Summarize the Northline timeline" gave "Here is how the project got here." as its second line.
    article = (
        "The Northline high-speed rail line between Leeds and Newcastle has been delayed again. Here is how "
        "the project got here.\n\n2017: The government approves the Northline plan, budgeted at 4.1 billion "
        "pounds.\n\n2021: Kestrel Rail, the main contractor, reports a 600 million pound overrun."
    )
    texts = [s.text for s in summarize([article], 40)]
    assert texts[0].startswith("The Northline high-speed rail line") and "Here is how" not in " ".join(texts)
    assert any(t.startswith("2017") for t in texts)


def test_a_single_article_summary_keeps_the_budget_rules():
    for budget in (10, 25, 40, 60):
        lengths = _words(summarize([ARTICLE], budget))
        assert sum(lengths) >= min(budget, len(ARTICLE.split()) - 3)
        assert sum(lengths) - max(lengths) < budget, budget
        assert sum(_words(summarize([ARTICLE], budget, strict=True))) <= budget
    assert len(summarize([ARTICLE], 500, max_sentences=2)) == 2


def test_bylines_and_timestamps_before_the_lead_are_skipped():
    article = (
        "By . Daily Mail Reporter . PUBLISHED: . 14:11 EST, 25 October 2013 . | . UPDATED: . 15:36 EST, "
        "25 October 2013 . The bishop of the diocese has exposed hundreds of church members to hepatitis A. "
        "The diocese said on Monday that the bishop is taking time off to recover from the illness."
    )
    summary = summarize([article], 20)
    assert summary[0].text.startswith("The bishop of the diocese")
    assert len(summary) == 2
