"""knowledge.retrieval: the pure fusion and scoring functions against hand-computed numbers, the dense
index against a brute-force numpy oracle, and FTS5 escaping of hostile user text through a real
knowledge base's ``search``."""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pytest
import pytest_asyncio

from knowledge import retrieval
from knowledge.backends.sqlite import memory_index, sqlite_store
from knowledge.backends.sqlite.index import DenseIndex, LexicalIndex
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.retrieval import (
    FusionWeights,
    fts_match_expression,
    fuse_scores,
    meaning_weight,
    ndcg_at_k,
    rrf,
    standardise,
    top_k,
)
from knowledge.scope import GLOBAL_SCOPE
from knowledge.service import KnowledgeBase, TextItem

# ---------------------------------------------------------------------------------------------- pure


def test_standardise_gives_population_z_scores():
    z = standardise({1: 1.0, 2: 2.0, 3: 3.0})
    # mean 2, population std sqrt(2/3): z = ±1 / sqrt(2/3) = ±sqrt(3/2)
    assert z[1] == pytest.approx(-math.sqrt(1.5))
    assert z[2] == pytest.approx(0.0)
    assert z[3] == pytest.approx(math.sqrt(1.5))


def test_standardise_of_equal_scores_is_all_zero():
    assert standardise({4: 7.0, 9: 7.0}) == {4: 0.0, 9: 0.0}


def test_standardise_of_nothing_is_empty():
    assert standardise({}) == {}


def test_fuse_scores_weighted_sum_of_z_scores_with_floor_for_missing_side():
    dense = {1: 0.9, 2: 0.5, 3: 0.1}  # mean 0.5, std 0.4 * sqrt(2/3): z = +s, 0, -s with s = sqrt(1.5)
    bm25 = {2: 8.0, 4: 2.0}  # mean 5, std 3: z = +1, -1
    s = math.sqrt(1.5)
    fused = fuse_scores(dense, bm25, FusionWeights(bm25_weight=0.5))
    assert set(fused) == {1, 2, 3, 4}
    assert fused[1] == pytest.approx(s + 0.5 * -1)  # missing from BM25: BM25's floor (-1)
    assert fused[2] == pytest.approx(0.0 + 0.5 * 1)
    assert fused[3] == pytest.approx(-s + 0.5 * -1)
    assert fused[4] == pytest.approx(-s + 0.5 * -1)  # missing from dense: dense's floor (-s)


def test_a_dense_side_that_found_no_meaning_does_not_outvote_an_exact_match():
    # Cosines of 0.11 against 0.02 are noise (a name the model does not know); standardised, they
    # put the one passage BM25 found (2) last.
    dense = {1: 0.11, 2: 0.02, 3: 0.05, 4: 0.09}
    assert top_k(fuse_scores(dense, {2: 2.4}), 1) == [(2, pytest.approx(fuse_scores(dense, {2: 2.4})[2]))]
    assert meaning_weight(dense) == pytest.approx(0.05)
    assert meaning_weight({1: 0.2}) == pytest.approx(0.5) and meaning_weight({1: 0.3, 2: -0.1}) == 1.0
    assert meaning_weight({1: 0.05}) == 0.0 and meaning_weight({}) == 1.0


def test_an_exhaustive_bm25_list_scores_the_passages_it_lacks_zero_before_standardising():
    # "Lagarde" in one passage of a small collection: the lone match was standardised to 0 and the
    # rest put one deviation under it, and dense noise (meaning weight 0.36) outvoted it.
    dense = {1: 0.17, 2: 0.15, 3: 0.02}
    bm25 = {3: 3.0}
    assert top_k(fuse_scores(dense, bm25), 1)[0][0] == 1
    fused = fuse_scores(dense, bm25, bm25_exhaustive=True)
    # BM25 over the union is 0, 0, 3 (mean 1, std sqrt(2)): z = -1/sqrt(2), -1/sqrt(2), sqrt(2).
    w = meaning_weight(dense)
    dz = {pid: z for pid, z in zip(dense, _z([0.17, 0.15, 0.02]), strict=True)}
    assert fused[3] == pytest.approx(w * dz[3] + 0.5 * math.sqrt(2))
    assert fused[1] == pytest.approx(w * dz[1] + 0.5 * -1 / math.sqrt(2))
    assert top_k(fused, 1)[0][0] == 3
    # A full list (as many as asked) says nothing of the rest: the floor, as before; nor does a
    # list beside a dense side sure of its meaning (weight 1).
    assert fuse_scores(dense, bm25, bm25_exhaustive=False) == fuse_scores(dense, bm25)
    sure = {1: 0.6, 2: 0.5, 3: 0.2}
    assert fuse_scores(sure, bm25, bm25_exhaustive=True) == fuse_scores(sure, bm25)


def _z(values: list[float]) -> list[float]:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return [(v - mean) / std for v in values]


def test_fuse_scores_with_one_side_empty_keeps_the_other_sides_order():
    fused = fuse_scores({1: 0.2, 2: 0.8, 3: 0.5}, {})
    assert [pid for pid, _ in top_k(fused, 3)] == [2, 3, 1]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        # "Who is the CEO of Helvia?" found no passage saying "Chief executive Anna Keller".
        ("Who is the CEO of Helvia?", "ceo helvia chief executive"),
        ("Who is the chief executive of Helvia?", "chief executive helvia ceo"),
        ("Who is the PM of Britain?", "pm britain prime minister"),
        ("What happens at 7 pm?", "happens 7 pm"),  # a time, not a prime minister
        ("Who is Keller?", "keller"),
        # ... and the other words for a toll: "Was anyone killed?" finds "No deaths".
        ("Was anyone killed in the storm?", "anyone killed storm die death dead fatal dying"),
        ("How many were wounded?", "wounded injured injury"),
        ("How much does Aurora cost?", "aurora cost price priced"),
    ],
)
def test_the_bm25_words_of_a_query_take_the_initials_news_writes_either_way(query, words):
    assert retrieval.search_words(query) == words


def test_rrf_sums_reciprocal_ranks_from_one():
    fused = rrf([[1, 2, 3], [3, 1]], k=60)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[2] == pytest.approx(1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)


def test_top_k_breaks_ties_by_id():
    assert top_k({5: 1.0, 2: 1.0, 9: 2.0, 1: 0.5}, 3) == [(9, 2.0), (2, 1.0), (5, 1.0)]


def test_ndcg_at_k_graded_hand_computed():
    # DCG = 1/log2(3); ideal order (2, 1) gives 2/log2(2) + 1/log2(3)
    expected = (1 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert ndcg_at_k(["a", "b", "c"], {"b": 1.0, "d": 2.0}, k=10) == pytest.approx(expected)
    assert expected == pytest.approx(0.23981, abs=1e-5)


def test_ndcg_at_k_ignores_ranks_past_k():
    assert ndcg_at_k(["x", "a"], {"a": 1.0}, k=1) == 0.0
    assert ndcg_at_k(["a", "x"], {"a": 1.0}, k=1) == 1.0


def test_ndcg_at_k_without_relevant_documents_is_zero():
    assert ndcg_at_k(["a"], {}, k=10) == 0.0


# ---------------------------------------------------------------------------------------------- FTS5 expression


HOSTILE = [
    '"Kazakhstan',  # unbalanced quote
    'Kazakhstan"',
    '"Kazakhstan troops"',
    "Kazakhstan*",
    "-Kazakhstan",
    "Kazakhstan -troops",
    "NEAR(Kazakhstan troops, 3)",
    "Kazakhstan AND OR NOT troops",
    "NOT Kazakhstan",
    "(Kazakhstan",
    "Kazakhstan)",
    "^Kazakhstan",
    "title:Kazakhstan",
    "text : Kazakhstan",
    "{text title}: Kazakhstan",
    "“Kazakhstan”",
    "Kazakhstan's troops?",
    "Kazakhstan + troops",
]

ONLY_SYNTAX = ['"', '""', "*", "-", "^", ":", "(", ")", "AND", "OR NOT AND", "NEAR", '"*"', "(((", '-:^*"']


@pytest.mark.parametrize("query", HOSTILE + ONLY_SYNTAX)
def test_fts_expression_is_only_quoted_words_joined_by_or(query):
    match = fts_match_expression(query)
    if match is not None:
        assert re.fullmatch(r'"\w+"( OR "\w+")*', match), match


def test_fts_expression_drops_stopwords_and_boolean_words():
    assert fts_match_expression("What is NOT in AND the OR news?") == '"news"'


def test_fts_expression_of_nothing_searchable_is_none():
    assert fts_match_expression("the of and ?!") is None


def test_fts_expression_keeps_at_most_max_terms():
    match = fts_match_expression(" ".join(f"word{i}" for i in range(50)), max_terms=4)
    assert match == '"word0" OR "word1" OR "word2" OR "word3"'


DOCS = [
    TextItem(
        "Kazakhstan asks for troops\n\nTroops from Russia arrived in Kazakhstan after fuel protests "
        "turned violent in Almaty.",
        origin="kz",
    ),
    TextItem(
        "Football final ends in penalties\n\nThe cup final in Madrid was decided on penalties after a goalless draw.",
        origin="football",
    ),
    TextItem(
        "Vaccine trial results published\n\nA vaccine trial in Brazil reported strong protection "
        "against severe illness.",
        origin="vaccine",
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


@pytest.mark.parametrize("query", HOSTILE)
async def test_search_with_fts_syntax_in_the_question_finds_the_right_document(kb, query):
    hits = await kb.search(query, k=3)
    assert hits
    assert hits[0].document.origin == "kz"
    assert hits[0].bm25_rank == 1  # the BM25 side ran (no syntax error swallowed into "no match")


@pytest.mark.parametrize("query", ONLY_SYNTAX)
async def test_search_with_only_syntax_does_not_fail(kb, query):
    hits = await kb.search(query, k=3)
    assert all(h.bm25_rank is None for h in hits)  # nothing for BM25 to match; dense may still answer


async def test_search_of_blank_query_is_empty(kb):
    assert await kb.search("   ", k=3) == []


# ---------------------------------------------------------------------------------------------- dense index


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    m = rng.normal(size=(n, dim)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


class Oracle:
    """Plain rows and a full sort: what DenseIndex must agree with."""

    def __init__(self) -> None:
        self.rows: list[
            tuple[int, int, int, int, np.ndarray]
        ] = []  # pid, did, gid (GLOBAL_SCOPE = global), day, vector

    def add(self, pids, did, gid, published, vectors):
        for pid, v in zip(pids, vectors, strict=True):
            self.rows.append(
                (pid, did, GLOBAL_SCOPE if gid is None else gid, published.toordinal() if published else 0, v)
            )

    def remove_document(self, did):
        self.rows = [r for r in self.rows if r[1] != did]

    def search(self, q, k, scope=None, date_from=None, date_to=None):
        out = []
        for pid, _, gid, day, v in self.rows:
            if scope == 0 and gid != GLOBAL_SCOPE:
                continue
            if scope not in (None, 0) and gid not in (GLOBAL_SCOPE, scope):
                continue
            if date_from is not None and day < date_from.toordinal():
                continue
            if date_to is not None and (day == 0 or day > date_to.toordinal()):
                continue
            out.append((pid, float(np.dot(v, q))))
        return sorted(out, key=lambda t: -t[1])[:k]


FILTERS = [
    dict(),
    dict(scope=0),
    dict(scope=7),
    dict(scope=8),
    dict(date_from=dt.date(2022, 3, 1)),
    dict(date_to=dt.date(2022, 6, 30)),
    dict(scope=7, date_from=dt.date(2022, 2, 1), date_to=dt.date(2022, 9, 30)),
]


def _fill(rng, docs: int, dim: int, index: DenseIndex, oracle: Oracle, first_pid: int = 1) -> int:
    """Add ``docs`` random documents (1-6 passages, random guild and date) to both; returns next pid."""
    pid = first_pid
    for did in range(first_pid, first_pid + docs):
        n = int(rng.integers(1, 7))
        gid = [None, 7, 8][int(rng.integers(0, 3))]
        published = None if rng.random() < 0.2 else dt.date(2022, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))
        vecs = _unit(rng, n, dim)
        pids = list(range(pid, pid + n))
        index.add(pids, did, gid, published, vecs)
        oracle.add(pids, did, gid, published, vecs)
        pid += n
    return pid


@pytest.mark.parametrize("filters", FILTERS)
def test_dense_search_matches_brute_force_oracle(filters):
    rng = np.random.default_rng(1)
    index, oracle = DenseIndex(), Oracle()
    _fill(rng, 300, 16, index, oracle)  # > 1,024 rows: the index grows past its first capacity
    assert len(index) == len(oracle.rows) > 1024
    for _ in range(5):
        q = _unit(rng, 1, 16)[0]
        got = index.search(q, 10, **filters)
        want = oracle.search(q, 10, **filters)
        assert [p for p, _ in got] == [p for p, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-5)


def test_dense_search_after_removals_matches_oracle():
    rng = np.random.default_rng(2)
    index, oracle = DenseIndex(), Oracle()
    next_pid = _fill(rng, 80, 16, index, oracle)
    for did in range(1, 80, 3):
        index.remove_document(did)
        oracle.remove_document(did)
    _fill(rng, 20, 16, index, oracle, first_pid=next_pid)  # added after the removals
    assert len(index) == len(oracle.rows)
    for filters in FILTERS:
        q = _unit(rng, 1, 16)[0]
        assert [p for p, _ in index.search(q, 15, **filters)] == [p for p, _ in oracle.search(q, 15, **filters)]


def test_dense_index_loaded_from_arrays_matches_one_built_by_add():
    rng = np.random.default_rng(3)
    built, oracle = DenseIndex(), Oracle()
    _fill(rng, 40, 8, built, oracle)
    pids = np.array([r[0] for r in oracle.rows])
    loaded = DenseIndex(
        pids,
        np.array([r[1] for r in oracle.rows]),
        np.array([r[2] for r in oracle.rows]),
        np.array([r[3] for r in oracle.rows], dtype=np.int32),
        np.vstack([r[4] for r in oracle.rows]),
    )
    for filters in FILTERS:
        q = _unit(rng, 1, 8)[0]
        assert loaded.search(q, 12, **filters) == built.search(q, 12, **filters)


def test_dense_search_returns_every_kept_row_when_k_is_larger():
    index = DenseIndex()
    index.add([1, 2], 1, None, None, _unit(np.random.default_rng(4), 2, 4))
    index.add([3], 2, 9, None, _unit(np.random.default_rng(5), 1, 4))
    assert sorted(p for p, _ in index.search(np.ones(4, np.float32) / 2, 50, scope=0)) == [1, 2]


def test_dense_search_of_empty_index_is_empty():
    assert DenseIndex().search(np.ones(4, np.float32), 5) == []


def test_dense_search_with_everything_filtered_out_is_empty():
    index = DenseIndex()
    index.add([1], 1, 5, None, _unit(np.random.default_rng(6), 1, 4))
    assert index.search(np.ones(4, np.float32), 5, scope=0) == []


def test_passage_embedding_text_prefixes_the_title():
    assert retrieval.passage_embedding_text("Big_news ", "Body.") == "Big news. Body."
    assert retrieval.passage_embedding_text("", "Body.") == "Body."


def test_a_lone_bm25_match_outranks_an_equal_dense_candidate_it_holds():
    from knowledge.retrieval import fuse_scores

    # Two passages equally close on the dense side; only passage 2 holds the rare keyword.
    fused = fuse_scores({1: 0.5, 2: 0.5, 3: 0.1}, {2: 7.0})
    assert fused[2] > fused[1] > fused[3]


async def test_candidates_say_whether_bm25_returned_every_passage_holding_a_query_word(tmp_path):
    from knowledge import KnowledgeBase, KnowledgeConfig
    from knowledge.embed import HashingEmbedder

    async with await KnowledgeBase.open(KnowledgeConfig(db=tmp_path / "kb.db"), embedder=HashingEmbedder()) as kb:
        await kb.add_text("ECB President Christine Lagarde said the bank was in a good place.", title="ECB")
        await kb.add_text("Container volumes at Baltic ports will grow in 2027.", title="Freight")
        await kb.add_text("Lagarde spoke again on Friday about trade.", title="ECB again")
        found = await retrieval.candidates(kb, "Lagarde")
        assert len(found.bm25) == 2 and found.bm25_exhaustive
        assert not (await retrieval.candidates(kb, "Lagarde", n=2)).bm25_exhaustive  # as many as asked


async def test_in_memory_bm25_ranks_like_fts5_bm25(tmp_path):
    """The in-memory postings follow FTS5's bm25() (same tokens, k1, b, IDF, title weight):
    on a small corpus both give the same ranking and nearly the same scores."""
    from knowledge import KnowledgeBase, KnowledgeConfig
    from knowledge.embed import HashingEmbedder
    from knowledge.retrieval import fts_match_expression, index_tokens, query_terms

    kb = await KnowledgeBase.open(KnowledgeConfig(db=tmp_path / "kb.db"), embedder=HashingEmbedder())
    try:
        texts = [
            ("Rail strike", "Train drivers walked out over pay. The rail union said 4,000 drivers joined the strike."),
            ("Rates", "The central bank raised interest rates to 3 per cent, its first increase since 2018."),
            ("Wind", "The offshore wind farm has 40 turbines and powers 300,000 homes near the harbour."),
            ("Grain", "Russia exported a record 38 million tonnes of grain; wheat went to Egypt and Turkey."),
            ("Café", "The café owners protested the rail closures that cut their trade by half."),
            (
                "Strike talks",
                "Talks to end the strike resume on Friday, the drivers' union and the rail operator said.",
            ),
        ]
        for title, text in texts:
            await kb.add_text(text, title=title)
        for question in ["rail strike drivers", "interest rates bank", "cafe rail", "wheat Egypt grain record"]:
            terms = index_tokens(" ".join(query_terms(question)))
            index = memory_index(kb.index)
            keep = index.dense.mask(None, None, None)
            memory = [(index.dense.pid(r), s) for r, s in index.lexical.search(terms, keep, 10)]
            match = fts_match_expression(question)
            assert match is not None, question
            fts = await sqlite_store(kb.store).fts_search(match, limit=10)
            assert [p for p, _ in memory] == [p for p, _ in fts], question
            for (_, a), (_, b) in zip(memory, fts, strict=True):
                assert a == pytest.approx(b, rel=0.02)
    finally:
        await kb.close()


def test_document_frequencies_count_rows_holding_each_term():
    index = LexicalIndex()
    index.add([("", "Drivers strike over pay."), ("Strike", "Talks resume on Friday."), ("", "Rates rise.")])
    index.add([("", "The strike ends.")])  # a second batch lands in another postings chunk
    assert index.document_frequencies(["strike", "talk", "missing"]) == {"strike": 3, "talk": 1, "missing": 0}
