"""``newsdesk eval collections``: small collections built from a tiny generated BEIR folder (fast
fake embedder), each a fresh knowledge base, and the worst-value summary on hand-made outcomes."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import asynccontextmanager

import numpy as np
import pytest
from beir_sets import append_query, write_beir

from knowledge import cli
from knowledge.embed import HashingEmbedder
from knowledge.evaluation import collections
from knowledge.evaluation.beir import Query, read_beir
from knowledge.evaluation.collections import Collection, Outcome
from knowledge.evaluation.qa import gold_documents

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def folder(tmp_path):
    """32 documents over 8 weeks, one question each, plus a question with two gold documents."""
    path = tmp_path / "set"
    write_beir(path)
    append_query(path, "two", "Which dam and which strike?", ["Mekong"], ["p0-1", "p0-0"], "2022/01/07")
    return path


def test_collections_have_their_size_and_hold_the_gold_documents(folder):
    data = read_beir(folder)
    plan = collections.plan_collections(data, [1, 3, 10], trials=6)
    assert [c.size for c in plan] == [1] * 6 + [3] * 6 + [10] * 6
    corpus = {str(row["_id"]) for row in data.corpus}
    for c in plan:
        gold = gold_documents(data.qrels, c.question.id)
        assert len(c.documents) == len(set(c.documents)) == c.size
        assert set(c.documents) <= corpus
        assert c.documents[: len(gold)] == tuple(gold)
        assert len(c.off_topic) == 2 and set(c.off_topic) <= set(collections.OFF_TOPIC)
    for size in (1, 3, 10):
        questions = [c.question.id for c in plan if c.size == size]
        assert len(set(questions)) == len(questions)  # drawn without replacement


def test_a_question_with_more_gold_documents_than_the_size_waits_for_a_larger_size(folder):
    data = read_beir(folder)
    everything = len(data.queries)
    plan = collections.plan_collections(data, [1, 3], trials=everything)
    assert "two" not in {c.question.id for c in plan if c.size == 1}
    assert len([c for c in plan if c.size == 1]) == everything - 1
    assert "two" in {c.question.id for c in plan if c.size == 3}


def test_absent_questions_have_none_of_their_gold_documents_nor_their_answer_in_the_collection(folder):
    data = read_beir(folder)
    texts = {str(row["_id"]): row["text"].lower() for row in data.corpus}
    plan = collections.plan_collections(data, [1, 3, 10], trials=8)
    for c in plan:
        assert len(c.absent) == 2
        for a in c.absent:
            assert a.id != c.question.id
            assert set(gold_documents(data.qrels, a.id)).isdisjoint(c.documents)
            assert not any(answer.lower() in texts[d] for answer in a.answers for d in c.documents)


def test_the_same_folder_and_seed_give_the_same_collections(folder):
    data = read_beir(folder)
    assert collections.plan_collections(data, [1, 3], 5) == collections.plan_collections(data, [1, 3], 5)
    assert collections.plan_collections(data, [3], 5, seed=1) != collections.plan_collections(data, [3], 5, seed=2)


def _collection(text: str, date: dt.date | None) -> Collection:
    absent = Query("a", "How many homes did storm Ida flood?", ["12"], dt.date(2021, 9, 1))
    return Collection(1, Query("q", text, ["x"], date), ("d",), (absent,), ("Who painted the Mona Lisa?",))


def test_the_question_is_asked_again_today_only_without_time_words():
    timeless = collections.asks_in(_collection("Who did voters in Chile elect?", dt.date(2022, 1, 7)), now=NOW)
    dated = collections.asks_in(_collection("Who did voters in Chile elect this week?", dt.date(2022, 1, 7)), now=NOW)
    latest = collections.asks_in(_collection("What is the latest on the Chile vote?", dt.date(2022, 1, 7)), now=NOW)
    when = lambda asks, kind: [(a.when, a.at) for a in asks if a.kind == kind]  # noqa: E731
    end_of_day = dt.datetime(2022, 1, 7, 23, 59, tzinfo=dt.UTC)
    assert when(timeless, "question") == [("question_date", end_of_day), ("today", NOW)]
    assert when(dated, "question") == [("question_date", end_of_day)]
    assert when(latest, "question") == [("question_date", end_of_day)]
    for asks in (timeless, dated):
        # absent questions on their own date, off-topic lines on the collection question's
        assert when(asks, "absent") == [
            ("question_date", dt.datetime(2021, 9, 1, 23, 59, tzinfo=dt.UTC)),
            ("today", NOW),
        ]
        assert when(asks, "off_topic") == [("question_date", end_of_day), ("today", NOW)]


def test_an_undated_question_is_asked_now_both_times():
    asks = collections.asks_in(_collection("Who did voters in Chile elect?", None), now=NOW)
    assert {a.at for a in asks if a.kind != "absent"} == {NOW}


def test_the_summary_takes_the_worst_cell_of_every_rate():
    def cell(size, when, question, absent, off_topic):
        # question: list of (refused, hit); absent/off_topic: list of refused
        return (
            [Outcome(size, "question", when, r, h) for r, h in question]
            + [Outcome(size, "absent", when, r, False) for r in absent]
            + [Outcome(size, "off_topic", when, r, False) for r in off_topic]
        )

    outcomes = (
        cell(1, "question_date", [(False, True)] * 4, [True] * 4, [False, True, True, True])
        + cell(1, "today", [(False, True), (False, False), (True, False), (False, True)], [True, False], [True] * 2)
        + cell(3, "question_date", [(False, True)] * 2, [True, True, True, False], [True] * 3)
        + cell(3, "today", [], [True], [True])  # every question had time words: no rate
    )
    result = collections.summarise(outcomes, [1, 3], trials=4, collections={1: 4, 3: 2})
    assert result["answer_hit"] == 0.5  # size 1 today
    assert result["false_abstain"] == 0.25  # size 1 today
    assert result["unanswerable_refused"] == 0.5  # size 1 today
    assert result["off_topic_refused"] == 0.75  # size 1 on the question's date
    assert result["by_size"]["3"]["today"]["answer_hit"] is None
    assert result["by_size"]["3"]["today"]["questions"] == 0
    assert result["by_size"]["1"]["today"] == {
        "answer_hit": 0.5,
        "false_abstain": 0.25,
        "unanswerable_refused": 0.5,
        "off_topic_refused": 1.0,
        "questions": 4,
        "absent": 2,
        "off_topic": 2,
    }
    assert result["collections"] == {"1": 4, "3": 2}


async def test_each_collection_is_a_fresh_knowledge_base_of_its_documents(folder, monkeypatch):
    held: list[tuple[int, int]] = []
    real = collections.corpus_knowledge_base

    @asynccontextmanager
    async def spy(corpus, **kwargs):
        async with real(corpus, **kwargs) as (kb, doc_to_corpus, seconds):
            held.append((len(corpus), await kb.count_documents()))
            yield kb, doc_to_corpus, seconds

    monkeypatch.setattr(collections, "corpus_knowledge_base", spy)
    result = await collections.evaluate_collections(folder, sizes=[1, 3], trials=3, embedder=HashingEmbedder(), now=NOW)
    assert held == [(1, 1)] * 3 + [(3, 3)] * 3
    assert result["by_size"]["1"]["question_date"]["questions"] == 3
    assert result["by_size"]["1"]["question_date"]["absent"] == 6
    assert result["by_size"]["3"]["today"]["off_topic"] == 6


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def encode(self, texts: list[str], *, bulk: bool = False) -> np.ndarray:
        self.seen += texts
        return super().encode(texts, bulk=bulk)


async def test_every_passage_and_question_is_embedded_once_per_run(folder):
    inner = CountingEmbedder()
    await collections.evaluate_collections(folder, sizes=[1, 3, 10], trials=8, embedder=inner, now=NOW)
    assert inner.seen and len(inner.seen) == len(set(inner.seen))


async def test_the_same_run_gives_the_same_json(folder):
    def run():
        return collections.evaluate_collections(folder, sizes=[1, 3], trials=5, embedder=HashingEmbedder(), now=NOW)

    first, second = await run(), await run()
    for result in (first, second):
        result.pop("seconds")
    assert json.dumps(first) == json.dumps(second)


def test_cli_eval_collections_prints_the_json_keys(folder, capsys, monkeypatch):
    monkeypatch.setattr(collections, "default_embedder", lambda: HashingEmbedder())
    code = cli.main(["eval", "collections", str(folder), "--sizes", "1,3", "--trials", "2", "--json"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert {"answer_hit", "false_abstain", "unanswerable_refused", "off_topic_refused", "seconds"} <= set(result)
    assert result["sizes"] == [1, 3] and result["trials"] == 2
    assert set(result["by_size"]) == {"1", "3"}
    assert set(result["by_size"]["3"]) == {"question_date", "today"}


def test_cli_eval_collections_of_a_missing_folder_is_a_short_error(tmp_path, capsys):
    # Checked by argparse, as for the other eval commands: one usage line and exit 2.
    with pytest.raises(SystemExit) as exit_:
        cli.main(["eval", "collections", str(tmp_path / "nowhere"), "--json"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "no such folder" in err and "nowhere" in err and "Traceback" not in err


def test_cli_eval_collections_refuses_bad_sizes(folder, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["eval", "collections", str(folder), "--sizes", "1,zero"])
    assert exit_.value.code == 2
    assert "expected a whole number" in capsys.readouterr().err


async def test_a_reply_citing_nothing_counts_as_a_refusal(folder, monkeypatch):
    """Small talk ("hello there, how are you today?") gets a friendly reply that cites no passage:
    nothing from the documents was given as the answer, so an off-topic line so answered is refused."""
    monkeypatch.setattr(collections, "OFF_TOPIC", ("hello there, how are you today?",) * 2)
    data = read_beir(folder)
    plans = collections.plan_collections(data, [1], 2)
    outcomes = await collections.run_collections(data, plans, embedder=HashingEmbedder(), now=NOW)
    off = [o for o in outcomes if o.kind == "off_topic"]
    assert off and all(o.refused for o in off)


async def test_training_samples_ask_each_question_once_in_a_small_collection(folder):
    """``bench/train_refusal.py``'s small-collection samples: the answerable questions in
    collections of each size in turn, labelled answerable, with their collections' absent
    questions labelled not."""
    from knowledge.evaluation.refusals import SMALL, SMALL_ABSENT

    samples = await collections.training_samples(folder, embedder=HashingEmbedder(), sizes=(1, 3))
    asked = [s for s in samples if s.kind == SMALL]
    assert asked and all(s.label == 1 for s in asked)
    # No question twice at one size; every answerable question at some size.
    assert len({s.query_id for s in asked}) == len(asked)
    assert len({s.query_id.split("@")[0] for s in asked}) == len(read_beir(folder).queries)
    absent = [s for s in samples if s.kind == SMALL_ABSENT]
    assert absent and all(s.label == 0 for s in absent)
    assert {s.query_id.rsplit("@", 1)[1] for s in asked} == {"1", "3"}


async def test_other_set_samples_put_another_set_s_questions_to_small_collections(folder, tmp_path):
    """``bench/train_refusal.py``'s cross-set negatives: each small collection of the folder asked
    one question of another set, labelled not answerable, drawn the same way every run."""
    from knowledge.evaluation.refusals import OTHER_SET

    other = tmp_path / "other"
    other.mkdir()
    asked = ["Who wrote the Iliad?", "What is the capital of Peru?", "How deep is Lake Baikal?"]
    (other / "corpus.jsonl").write_text(json.dumps({"_id": "w", "title": "", "text": "Lima."}) + "\n")
    (other / "queries.jsonl").write_text(
        "".join(
            json.dumps({"_id": f"o{i}", "text": t, "metadata": {"answers": ["x"]}}) + "\n" for i, t in enumerate(asked)
        )
    )
    (other / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"o{i}\tw\t1\n" for i in range(3)))

    samples = await collections.other_set_samples(folder, other, embedder=HashingEmbedder(), sizes=(1, 3), per_size=4)
    assert len(samples) == 8
    assert all(s.kind == OTHER_SET and s.label == 0 for s in samples)
    assert {s.query_id.split("@")[0] for s in samples} <= {"o0", "o1", "o2"}
    assert {s.query_id.rsplit("@", 1)[1] for s in samples} == {"1", "3"}
    again = await collections.other_set_samples(folder, other, embedder=HashingEmbedder(), sizes=(1, 3), per_size=4)
    assert [s.query_id for s in again] == [s.query_id for s in samples]
