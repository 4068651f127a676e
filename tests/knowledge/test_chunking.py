"""knowledge.chunking: passages are exact slices of the stored text, short paragraphs are packed, long
ones are cut between sentences under MAX_WORDS, and no paragraph text is lost."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from knowledge import ingest
from knowledge.chunking import MAX_WORDS, PARAGRAPH_SEPARATOR, TARGET_WORDS, chunk_paragraphs, embedding_key

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))

SENTENCES = [
    "Troops arrived in Almaty on Thursday after days of unrest over fuel prices.",
    "The government said order had been restored in most cities.",
    "Analysts in Moscow and Beijing watched the crisis closely.",
    "Dr. Smith, a historian at the university, said the alliance had never acted like this before.",
    "Prices for liquefied gas doubled overnight on January 1.",
    "Why did the protests spread so quickly?",
    "Internet access was cut across the country for several days.",
    "The president called the protesters terrorists trained abroad.",
]


def _sentence_paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(rng.choice(SENTENCES) for _ in range(sentences))


def _random_paragraphs(seed: int) -> list[str]:
    rng = random.Random(seed)
    # short (packed), medium, exactly-at-the-limit-ish and long (cut) paragraphs in random order
    return [_sentence_paragraph(rng, rng.choice([1, 2, 3, 6, 12, 20, 35])) for _ in range(rng.randint(1, 14))]


def _paragraph_spans(paragraphs: list[str]) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for p in paragraphs:
        spans.append((pos, pos + len(p)))
        pos += len(p) + len(PARAGRAPH_SEPARATOR)
    return spans


CASES = [_random_paragraphs(seed) for seed in range(25)] + [
    ingest.parse_bytes(path.read_bytes(), path.name).paragraphs for path in SEEDS
]


@pytest.mark.parametrize("paragraphs", CASES)
def test_passages_are_exact_slices_of_the_document_text(paragraphs):
    text = PARAGRAPH_SEPARATOR.join(paragraphs)
    passages = chunk_paragraphs(paragraphs, title="T")
    assert passages
    for p in passages:
        assert text[p.char_start : p.char_end] == p.text
        assert p.text == p.text.strip()


@pytest.mark.parametrize("paragraphs", CASES)
def test_paragraph_index_is_the_paragraph_holding_the_first_character(paragraphs):
    spans = _paragraph_spans(paragraphs)
    for p in chunk_paragraphs(paragraphs):
        start, end = spans[p.paragraph_index]
        assert start <= p.char_start < end


@pytest.mark.parametrize("paragraphs", CASES)
def test_every_paragraph_character_is_in_exactly_one_passage(paragraphs):
    passages = chunk_paragraphs(paragraphs)
    covered: dict[int, int] = {}
    for p in passages:
        for i in range(p.char_start, p.char_end):
            covered[i] = covered.get(i, 0) + 1
    text = PARAGRAPH_SEPARATOR.join(paragraphs)
    for start, end in _paragraph_spans(paragraphs):
        for i in range(start, end):
            if not text[i].isspace():  # whitespace between two cut sentences may fall between passages
                assert covered.get(i) == 1, (i, text[max(0, i - 20) : i + 20])


@pytest.mark.parametrize("paragraphs", CASES)
def test_passages_are_ordered_and_numbered(paragraphs):
    passages = chunk_paragraphs(paragraphs)
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    assert all(a.char_end <= b.char_start for a, b in zip(passages, passages[1:], strict=False))


@pytest.mark.parametrize("paragraphs", CASES)
def test_no_passage_is_over_max_words(paragraphs):
    assert all(len(p.text.split()) <= MAX_WORDS for p in chunk_paragraphs(paragraphs))


def test_long_paragraph_is_cut_between_sentences():
    long = " ".join(SENTENCES * 4)  # 8 sentences x 4, about 340 words
    assert len(long.split()) > MAX_WORDS
    passages = chunk_paragraphs([long])
    assert len(passages) > 1
    assert all(p.paragraph_index == 0 for p in passages)
    starts = {s.split()[0] for s in SENTENCES}
    for p in passages:
        assert p.text.split()[0] in starts  # each cut starts a sentence ...
        assert p.text[-1] in ".?"  # ... and ends one
        assert len(p.text.split()) <= TARGET_WORDS


def test_paragraph_at_max_words_stays_whole():
    para = " ".join(["word"] * (MAX_WORDS - 1)) + " end."
    assert [p.text for p in chunk_paragraphs([para])] == [para]


def test_short_paragraphs_are_packed_up_to_target_words():
    paragraphs = [" ".join([f"w{i}"] * 20) for i in range(5)]  # 20 words each; 4 fit in 90
    passages = chunk_paragraphs(paragraphs)
    assert [p.paragraph_index for p in passages] == [0, 4]
    assert passages[0].text == PARAGRAPH_SEPARATOR.join(paragraphs[:4])
    assert passages[1].text == paragraphs[4]


def test_paragraph_that_would_overflow_the_target_starts_a_new_passage():
    paragraphs = [" ".join(["a"] * 60), " ".join(["b"] * 40)]
    assert [p.text for p in chunk_paragraphs(paragraphs)] == paragraphs


def test_text_hash_covers_title_and_text():
    [p] = chunk_paragraphs(["Some body text."], title="Title")
    assert p.text_hash == embedding_key("Title", "Some body text.")
    [q] = chunk_paragraphs(["Some body text."], title="Other title")
    assert q.text_hash != p.text_hash


def test_no_paragraphs_give_no_passages():
    assert chunk_paragraphs([]) == []


def test_a_heading_goes_with_the_text_under_it():
    # Packed by words alone, "Risks" ended the passage on revenue and the risks went without it:
    # "What are the main risks?" met the revenue passage.
    revenue = " ".join(["Revenue rose 14% in the quarter on strong orders."] * 6)  # 54 words
    risks = " ".join(["Customer concentration remains high across the business."] * 6)  # 42 words
    rating = "We keep our Buy rating with a price target of $86, and see a fifth of upside over the year."  # 20
    paragraphs = [revenue, "Risks", risks, "Rating", rating]
    passages = chunk_paragraphs(paragraphs, target_words=60)
    assert [p.text for p in passages] == [revenue, f"Risks\n\n{risks}", f"Rating\n\n{rating}"]
    assert [p.paragraph_index for p in passages] == [0, 1, 3]
    # A heading that starts the document is not carried anywhere, and a sentence is no heading.
    assert [p.text for p in chunk_paragraphs(["Risks", risks], target_words=60)] == [f"Risks\n\n{risks}"]
    ended = chunk_paragraphs([revenue, "Risks remain.", risks], target_words=60)
    assert ended[0].text == f"{revenue}\n\nRisks remain."


def test_a_list_of_short_lines_is_packed_not_cut_a_line_at_a_time():
    # Every line of a list of names has a heading's shape; carried as headings, each passage
    # would have held one line.
    names = [f"Delegate number {i} present" for i in range(100)]
    passages = chunk_paragraphs(names)
    assert len(passages) == 5 and all(len(p.text.split()) >= 40 for p in passages)


def test_a_section_of_its_own_starts_a_passage_but_not_one_under_a_pair_of_headings():
    # A product page of ~100 words was one passage (a table, the warranty, the installation):
    # "How long does installation take?" met it at a cosine of 0.06 and was refused.
    intro = "Aurora stores solar power for the evening and keeps the lights on during outages at home."  # 16
    table = "Model: Aurora S; Capacity: 5 kWh; Price: 4,900 euros."
    warranty = "Every Aurora carries a 10-year warranty or 6,000 full cycles, whichever comes first."
    install = "A certified installer fits Aurora in under four hours, on a wall that stays cool."
    page = [intro, table, "Warranty", warranty, "Installation", install]
    # Not at the first heading: the opening is about the title as the first section is.
    assert [p.text for p in chunk_paragraphs(page)] == [
        "\n\n".join(page[:4]),
        f"Installation\n\n{install}",
    ]
    # Under a pair of headings a lone one after text stays with the pair's first ("Fixed" under
    # "Version 4.2"); the next pair starts a passage.
    notes = [
        "Version 4.2 — November 18, 2026",
        "New",
        "Bank feeds now sync every 15 minutes instead of hourly, for every bank we support today.",
        "Fixed",
        "Exporting a VAT return no longer fails when an invoice has no customer on it.",
        "Version 4.1 — October 2, 2026",
        "New",
        "Two-factor authentication with hardware keys.",
    ]
    passages = [p.text for p in chunk_paragraphs(notes)]
    assert passages == ["\n\n".join(notes[:5]), "\n\n".join(notes[5:])]
    # A numbered heading opens a section once a passage has words enough.
    handbook = [
        "1. Leave",
        "Full-time staff receive 27 days of paid leave a year, and may carry five unused days over to the next year.",
        "2. Expenses",
        intro,
    ]
    assert [p.text for p in chunk_paragraphs(handbook)] == ["\n\n".join(handbook[:2]), "\n\n".join(handbook[2:])]
