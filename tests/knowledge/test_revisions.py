"""What a later document says of the answer's figures (``knowledge.revisions``): hand-built
candidates, hand-checked choices."""

from __future__ import annotations

import datetime as dt

from knowledge.revisions import with_later_word
from knowledge.sentences import Candidate


def _c(pid: int, text: str, coverage: float = 0.8, score: float = 1.0) -> Candidate:
    return Candidate(pid, pid, 0, 0, len(text), text, 1.0, coverage, score)


MEMO = _c(1, "Harbor 2.0 will be generally available on 1 December 2026.", 1.0, 7.8)
MOVED = _c(2, "The council agreed to move the general release from 1 December to 8 December.", 0.83, 5.2)
OCT, NOV = dt.date(2026, 10, 2), dt.date(2026, 11, 12)


def test_a_later_documents_word_on_the_answers_figure_follows_it():
    # Asked months later, the answer quoted the memo's date alone, not the minutes that moved it.
    assert with_later_word([MEMO], [MEMO, MOVED], {1: OCT, 2: NOV}) == [MEMO, MOVED]


def test_only_a_later_document_and_only_on_the_same_figure_with_a_new_one():
    assert with_later_word([MEMO], [MEMO, MOVED], {1: NOV, 2: OCT}) == [MEMO]  # older: the memo is the news
    assert with_later_word([MEMO], [MEMO, MOVED], {1: OCT, 2: None}) == [MEMO]  # undated: never later
    assert with_later_word([MEMO], [MEMO, MOVED], {1: None, 2: NOV}) == [MEMO]
    other = _c(3, "The launch event in Oslo will have 300 guests.", 0.8)
    assert with_later_word([MEMO], [MEMO, other], {1: OCT, 3: NOV}) == [MEMO]  # shares no figure
    same = _c(4, "Harbor 2.0 is still planned for 1 December.", 0.8)
    assert with_later_word([MEMO], [MEMO, same], {1: OCT, 4: NOV}) == [MEMO]  # adds no figure
    loose = _c(5, MOVED.text, 0.3)
    assert with_later_word([MEMO], [MEMO, loose], {1: OCT, 5: NOV}) == [MEMO]  # about something else
    assert with_later_word([], [MOVED], {2: NOV}) == []


def test_a_year_alone_ties_no_two_sentences():
    results = _c(1, "Ledgerly reported revenue of 48.2 million euros in 2026.", 1.0, 6.0)
    annual = _c(2, "In 2026 revenue grew by 24% to 310 million kroner.", 0.8, 4.0)
    assert with_later_word([results], [results, annual], {1: OCT, 2: NOV}) == [results]
