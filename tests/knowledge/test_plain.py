"""Plain-text rendering for terminals (the CLI and the bot's console)."""


def test_a_date_known_only_by_its_year_is_shown_as_the_year():
    import datetime as dt

    from knowledge.plain import format_date

    assert format_date(dt.date(2022, 1, 1), "year") == "2022"
    assert format_date(dt.date(2022, 3, 1), "month") == "2022-03"
    assert format_date(dt.date(2022, 3, 9)) == "2022-03-09"
    assert format_date(None) == "undated"


def test_plural_reads_as_english():
    from knowledge.plain import plural

    assert plural(1, "passage") == "1 passage"
    assert [plural(n, "passage") for n in (0, 2, 1051)] == ["0 passages", "2 passages", "1051 passages"]
    assert plural(1, "story", "stories") == "1 story" and plural(3, "story", "stories") == "3 stories"
