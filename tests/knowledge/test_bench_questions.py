"""``bench/search.py`` without the evaluation sets: its questions come from the seeds' sentences,
which are fewer than a run asks, so some are asked more than once instead of the run failing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import search  # noqa: E402  # pyright: ignore[reportMissingImports]


def test_questions_without_the_evaluation_sets_fill_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(search, "EVAL", tmp_path / "no-eval")
    texts, used = search.source_texts()
    assert used == "seeds"
    asked = search.questions(200, texts)
    assert len(asked) == 200
    assert all(q.startswith("What happened when ") and q.endswith("?") for q in asked)
    assert len(set(asked)) < 200  # the seeds hold fewer sentences: repeats, not a failure
