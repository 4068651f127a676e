"""knowledge.retrieval: a search asked at a known time (``now``) ranks as it would have then. The
pure pieces against hand-computed numbers, then a real knowledge base (both backends): documents
from after the time of asking are left out, near-ties go to the recent one, time words narrow the
window (a year naming an event does not), and without ``now`` nothing changes."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
import pytest_asyncio

from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.evaluation.retrieval import evaluate_retrieval
from knowledge.retrieval import RecencyPrior, as_of, intersect_window
from knowledge.service import KnowledgeBase, TextItem

TODAY = dt.date(2022, 3, 10)

# ---------------------------------------------------------------------------------------------- pure


def test_as_of_adds_the_decayed_prior_by_age():
    prior = RecencyPrior(weight=0.5, days=14.0)
    published = {1: TODAY, 2: TODAY - dt.timedelta(days=14), 3: TODAY - dt.timedelta(days=28)}
    out = as_of({1: 1.0, 2: 1.0, 3: 2.0}, published, TODAY, prior)
    assert out[1] == pytest.approx(1.5)  # today: the full weight
    assert out[2] == pytest.approx(1.0 + 0.5 / math.e)  # one decay length: weight / e
    assert out[3] == pytest.approx(2.0 + 0.5 / math.e**2)


def test_as_of_drops_documents_published_after_today():
    out = as_of({1: 3.0, 2: 1.0}, {1: TODAY + dt.timedelta(days=1), 2: TODAY}, TODAY)
    assert set(out) == {2}


def test_as_of_keeps_undated_and_unknown_passages_without_a_boost():
    out = as_of({1: 0.7, 2: -0.2}, {1: None}, TODAY, RecencyPrior(weight=0.5))
    assert out == {1: 0.7, 2: -0.2}


def test_as_of_with_zero_weight_only_filters():
    scores = {1: 0.3, 2: 0.9}
    assert as_of(scores, {1: TODAY, 2: TODAY - dt.timedelta(days=400)}, TODAY, RecencyPrior(weight=0.0)) == scores


def test_a_clear_match_beats_a_fresh_weak_one_but_a_near_tie_goes_to_the_fresh():
    prior = RecencyPrior(weight=0.5, days=14.0)
    published = {1: TODAY - dt.timedelta(days=365), 2: TODAY}
    assert max(as_of({1: 2.0, 2: 1.0}, published, TODAY, prior).items(), key=lambda kv: kv[1])[0] == 1
    assert max(as_of({1: 1.2, 2: 1.0}, published, TODAY, prior).items(), key=lambda kv: kv[1])[0] == 2


def test_intersect_window_takes_the_later_start_and_the_earlier_end():
    a, b, c, d = (dt.date(2022, m, 1) for m in (1, 2, 3, 4))
    assert intersect_window(a, c, b, d) == (b, c)
    assert intersect_window(None, None, b, d) == (b, d)
    assert intersect_window(a, None, None, c) == (a, c)
    assert intersect_window(None, None, None, None) == (None, None)


# ---------------------------------------------------------------------------------------------- search


ASKED = dt.datetime(2022, 3, 10, 23, 59, tzinfo=dt.UTC)

DOCS = [
    TextItem(
        "Harbour bridge repairs\n\nThe harbour bridge closed for repairs to its steel cables this spring.",
        published=dt.date(2021, 3, 1),
        origin="old",
    ),
    TextItem(
        "Harbour bridge repairs\n\nThe harbour bridge closed for repairs to its steel cables this week.",
        published=dt.date(2022, 3, 9),
        origin="recent",
    ),
    TextItem(
        "Harbour bridge repairs\n\nThe harbour bridge closed for repairs to its steel cables once more.",
        published=dt.date(2022, 5, 1),
        origin="future",
    ),
    TextItem(
        "Harbour bridge repairs\n\nThe harbour bridge closed for repairs to its steel cables again.",
        origin="undated",
    ),
]


@pytest.fixture(params=["sqlite", "postgres", "postgres-sql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Both PostgreSQL lexical engines too: pg_textsearch's and the exact BM25 in SQL."""
    return request.param


@pytest_asyncio.fixture(loop_scope="function")
async def kb(db: str):
    kb = await KnowledgeBase.open(KnowledgeConfig().with_db(db), embedder=HashingEmbedder())
    report = await kb.add_texts(DOCS)
    assert not report.errors
    yield kb
    await kb.close()


async def test_search_as_of_a_day_leaves_out_later_documents_and_keeps_undated(kb):
    origins = [h.document.origin for h in await kb.search("harbour bridge steel cables repairs", k=10, now=ASKED)]
    assert "future" not in origins
    assert {"old", "recent", "undated"} <= set(origins)


async def test_search_as_of_a_day_puts_the_recent_near_tie_first(kb):
    hits = await kb.search("harbour bridge steel cables repairs", k=10, now=ASKED)
    assert hits[0].document.origin == "recent"


async def test_search_without_now_has_no_time_preference(kb):
    origins = [h.document.origin for h in await kb.search("harbour bridge steel cables repairs", k=10)]
    assert set(origins) == {"old", "recent", "future", "undated"}


async def test_search_date_words_narrow_the_window_relative_to_now(kb):
    origins = [h.document.origin for h in await kb.search("harbour bridge repairs last year", k=10, now=ASKED)]
    assert origins == ["old"]


async def test_search_a_year_naming_when_something_happened_is_no_window(kb):
    """Issue 16: "repairs in 2021" may be discussed in a later article: it stays in the query and
    ranks, it does not filter."""
    origins = [h.document.origin for h in await kb.search("harbour bridge repairs in 2021", k=10, now=ASKED)]
    assert {"old", "recent", "undated"} <= set(origins) and "future" not in origins


async def test_search_window_that_excludes_the_date_words_window_is_empty(kb):
    hits = await kb.search("harbour bridge repairs last year", k=10, now=ASKED, date_from=dt.date(2022, 1, 1))
    assert hits == []


async def test_eval_retrieval_asks_a_dated_question_on_its_date(tmp_path):
    # Without the date, "old" and "recent" tie and the older one comes first (nDCG 1/log2(3)).
    corpus = [
        {"_id": d.origin, "title": "", "text": d.text.split("\n\n")[1], "metadata": {"date": str(d.published)}}
        for d in DOCS
        if d.published
    ]
    query = {"_id": "q1", "text": "harbour bridge steel cables repairs", "metadata": {"date": "2022/03/10"}}
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps(row) for row in corpus) + "\n")
    (tmp_path / "queries.jsonl").write_text(json.dumps(query) + "\n")
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\trecent\t1\n")
    result = await evaluate_retrieval(tmp_path, embedder=HashingEmbedder())
    assert result["queries"] == 1
    assert result["ndcg@10"] == 1.0
