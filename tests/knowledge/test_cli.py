"""``newsdesk`` through ``knowledge.cli.main([...])``: a real SQLite file in a temp dir, the fast fake
embedder instead of the model, output read from stdout/stderr."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
from pathlib import Path

import pytest

from knowledge import cli
from knowledge.backends.sqlite import SqliteStore
from knowledge.dates import parse_since
from knowledge.embed import HashingEmbedder
from knowledge.service import KnowledgeBase

SEEDS = {
    "dam.txt": "River dam opens to traffic\n\nThe new dam on the Mekong river opened on Monday after six years of "
    "construction, officials said.",
    "strike.txt": "Dock workers end strike\n\nDock workers in Rotterdam ended a two-week strike after agreeing a "
    "pay rise of five percent.",
}


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name, text in SEEDS.items():
        (seeds / name).write_text(text, encoding="utf-8")
    for var in ("NEWSDESK_DB", "NEWSDESK_MODEL", "NEWSDESK_MAX_FILE_MB"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NEWSDESK_SEEDS", str(seeds))
    monkeypatch.chdir(tmp_path)  # no .env of the working copy is read

    async def open_fast(config):
        return await KnowledgeBase.open(config, embedder=HashingEmbedder())

    monkeypatch.setattr(cli, "_open", open_fast)
    return tmp_path / "cli.db"


def run(capsys: pytest.CaptureFixture, db: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["--db", str(db), *args])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------- index


def test_index_without_paths_indexes_the_seeds_folder(capsys, db):
    code, out, _ = run(capsys, db, "index")
    assert code == 0
    assert out.startswith("added 2, updated 0, unchanged 0, failed 0; 2 passages in ")
    assert str(db) in out


def test_index_without_paths_indexes_every_seeds_folder_of_the_path_list(capsys, db, tmp_path, monkeypatch):
    # NEWSDESK_SEEDS is a list like PATH for the bot; `newsdesk index` once read it as one folder name.
    more = tmp_path / "more seeds"
    more.mkdir()
    (more / "extra.txt").write_text("Extra\n\nA third document about the harbour.", encoding="utf-8")
    monkeypatch.setenv("NEWSDESK_SEEDS", os.pathsep.join([str(tmp_path / "seeds"), str(more)]))
    code, out, _ = run(capsys, db, "index")
    assert code == 0
    assert out.startswith("added 3, updated 0, unchanged 0, failed 0;")


def test_index_twice_reports_unchanged(capsys, db):
    run(capsys, db, "index")
    code, out, _ = run(capsys, db, "index")
    assert code == 0
    assert out.startswith("added 0, updated 0, unchanged 2, failed 0;")


def test_index_with_a_bad_file_indexes_the_rest_and_names_it(capsys, db, tmp_path):
    (tmp_path / "seeds" / "table.csv").write_text("a,b\n", encoding="utf-8")
    code, out, err = run(capsys, db, "index")
    assert code == 0
    assert "added 2" in out and "failed 1" in out
    assert "error: table.csv: unsupported file type .csv" in err


def test_index_of_only_bad_files_fails(capsys, db, tmp_path):
    bad = tmp_path / "empty.txt"
    bad.write_bytes(b"")
    code, out, err = run(capsys, db, "index", str(bad))
    assert code == 1
    assert "error: empty.txt: the file is empty" in err


# ---------------------------------------------------------------------------------------------- search


def test_search_prints_ranked_passages_with_their_document(capsys, db):
    run(capsys, db, "index")
    code, out, _ = run(capsys, db, "search", "Rotterdam dock strike", "-k", "1")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("1. Dock workers end strike — undated")
    assert "¶1" in first
    assert "pay rise of five percent" in out
    assert "2." not in out  # -k 1


def test_search_ranks_as_of_now_like_ask(capsys, db):
    """`search` shows what `ask` could cite: a document dated after today is not among the hits."""
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)

    async def add() -> None:
        async with await KnowledgeBase.open(cli.KnowledgeConfig(db=db), embedder=HashingEmbedder()) as kb:
            await kb.add_text(
                "Rotterdam dock strike talks resume, the union said.", title="Dated later", published=tomorrow
            )
            await kb.add_text("Rotterdam dock strike talks stall, the port said.", title="Dated earlier")
            hits = await kb.search("Rotterdam dock strike", k=5)  # without a time of asking: both
            assert {"Dated later", "Dated earlier"} <= {h.document.title for h in hits}

    run(capsys, db, "index")
    asyncio.run(add())
    code, out, _ = run(capsys, db, "search", "Rotterdam dock strike", "-k", "5")
    assert code == 0
    assert "Dated earlier" in out and "Dated later" not in out


def test_search_of_an_empty_database(capsys, db):
    code, out, _ = run(capsys, db, "search", "anything at all")
    assert code == 0
    assert out.strip() == "No matching passages."


# ---------------------------------------------------------------------------------------------- docs


def test_docs_list_shows_every_document(capsys, db):
    run(capsys, db, "index")
    code, out, _ = run(capsys, db, "docs", "list")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert any(line.startswith("#") and "River dam opens to traffic" in line for line in lines)
    assert all(" 1 passage " in line and line.rstrip().endswith("global") for line in lines)  # not "1 passages"


def test_docs_list_of_an_empty_database(capsys, db):
    code, out, _ = run(capsys, db, "docs", "list")
    assert code == 0
    assert out.startswith("No documents.")


def test_docs_remove_removes_the_document(capsys, db):
    run(capsys, db, "index")
    _, listing, _ = run(capsys, db, "docs", "list")
    line = next(line for line in listing.splitlines() if "Dock workers" in line)
    doc_id = line.split()[0].lstrip("#")
    code, out, _ = run(capsys, db, "docs", "remove", doc_id)
    assert code == 0
    assert out.strip() == f"removed #{doc_id} “Dock workers end strike”"
    _, listing, _ = run(capsys, db, "docs", "list")
    assert "Dock workers" not in listing
    _, found, _ = run(capsys, db, "search", "Rotterdam dock strike")
    assert "Dock workers" not in found


def test_docs_remove_of_a_missing_document_is_an_error(capsys, db):
    run(capsys, db, "index")
    code, out, err = run(capsys, db, "docs", "remove", "999")
    assert code == 1
    assert err.strip() == "error: no document #999 that can be removed here"
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------- log export


def _log(db: Path) -> None:
    async def write() -> None:
        store = await SqliteStore.open(db)
        try:
            await store.log_interaction(
                "ask",
                guild_id=5,
                user_id=7,
                input='Who won, "really"?',
                outcome="answered",
                answer="Nobody [1].",
                passage_ids=[3, 4],
                scores=[0.91234, 0.5],
                latency_ms=12.5,
                at=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            )
            await store.log_interaction("feedback", outcome="up", ref_id=1, at=dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
        finally:
            await store.close()

    asyncio.run(write())


def test_log_export_jsonl(capsys, db):
    _log(db)
    code, out, _ = run(capsys, db, "log", "export", "--format", "jsonl")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["kind"] for r in rows] == ["ask", "feedback"]
    assert rows[0]["input"] == 'Who won, "really"?'
    assert rows[0]["passage_ids"] == [3, 4] and rows[0]["scores"] == [0.9123, 0.5]
    assert rows[1]["ref_id"] == 1


def test_log_export_csv(capsys, db):
    _log(db)
    code, out, _ = run(capsys, db, "log", "export", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["kind"] for r in rows] == ["ask", "feedback"]
    assert rows[0]["input"] == 'Who won, "really"?'
    assert json.loads(rows[0]["passage_ids"]) == [3, 4]
    assert rows[0]["latency_ms"] == "12.5"
    assert rows[1]["guild_id"] == ""


def test_log_export_since_a_date(capsys, db):
    _log(db)
    _, out, _ = run(capsys, db, "log", "export", "--since", "2024-02-01")
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["feedback"]


def test_log_export_to_a_file(capsys, db, tmp_path):
    _log(db)
    target = tmp_path / "log.jsonl"
    code, out, err = run(capsys, db, "log", "export", "-o", str(target))
    assert code == 0
    assert out == ""
    assert len(target.read_text(encoding="utf-8").splitlines()) == 2
    assert "wrote 2 interactions" in err


def test_log_export_with_an_unreadable_since_is_an_error(capsys, db):
    code, _, err = run(capsys, db, "log", "export", "--since", "last tuesday")
    assert code == 1
    assert err.startswith("error: cannot read the time 'last tuesday'")


# ---------------------------------------------------------------------------------------------- brief


def test_brief_shows_a_date_known_only_by_its_year_as_the_year(capsys, db, tmp_path):
    # Only a copyright footer dates this file: "2022", as answers show it, not "2022-01-01".
    year_only = tmp_path / "glacier.txt"
    year_only.write_text(
        "Glacier melt speeds up in the Alps\n\nScientists measured the Rhone glacier melting "
        "faster than ever this spring.\n\n© 2022 Alpine Gazette. All rights reserved.",
        encoding="utf-8",
    )
    assert run(capsys, db, "index", str(year_only))[0] == 0
    code, out, _ = run(capsys, db, "brief", "--since", "24h")
    assert code == 0
    assert "Glacier melt speeds up in the Alps — 2022" in out and "2022-01-01" not in out


# ---------------------------------------------------------------------------------------------- parse_since


@pytest.mark.parametrize(
    "value, delta",
    [
        ("24h", dt.timedelta(hours=24)),
        ("90m", dt.timedelta(minutes=90)),
        ("7d", dt.timedelta(days=7)),
        ("2w", dt.timedelta(weeks=2)),
    ],
)
def test_parse_since_relative(value, delta):
    now = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    assert parse_since(value, now) == now - delta


def test_parse_since_date_is_utc_midnight():
    now = dt.datetime(2024, 5, 2, tzinfo=dt.UTC)
    assert parse_since("2024-05-01", now) == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
