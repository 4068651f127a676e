"""What a newcomer's first mistakes print from ``newsdesk``: one line that names the problem and a
non-zero exit, never a traceback (a missing evaluation folder, a missing file, a reader that closes
the pipe early); and the help says how far back ``brief --since`` goes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge import cli
from knowledge.backends.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("NEWSDESK_DB", "NEWSDESK_MODEL", "NEWSDESK_MAX_FILE_MB"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the working copy is read
    return tmp_path / "cli.db"


def usage_error(capsys: pytest.CaptureFixture, *args: str) -> str:
    """argparse's one-line error for ``args`` (it exits 2); the error line."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(list(args))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("command", ["retrieval", "qa", "refusals"])
def test_eval_of_a_missing_folder_is_one_line(capsys, db, tmp_path, command):
    line = usage_error(capsys, "--db", str(db), "eval", command, str(tmp_path / "no-such-set"))
    assert line.endswith(f"error: argument dir: no such folder: {tmp_path / 'no-such-set'}")


def test_eval_of_a_folder_without_the_evaluation_files_names_what_is_missing(capsys, db, tmp_path):
    folder = tmp_path / "half-a-set"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("")
    line = usage_error(capsys, "--db", str(db), "eval", "retrieval", str(folder))
    assert "lacks queries.jsonl, qrels.tsv" in line


def test_eval_of_a_missing_file_is_one_line(capsys, db, tmp_path):
    line = usage_error(capsys, "--db", str(db), "eval", "summaries", str(tmp_path / "clusters.jsonl"))
    assert line.endswith(f"no such file: {tmp_path / 'clusters.jsonl'}")


def test_a_file_missing_while_a_command_runs_is_one_line_and_exit_1(capsys, db, tmp_path, monkeypatch):
    # Whatever a command opens that turns out missing or unreadable: an error line, not a traceback.
    from knowledge.evaluation import summaries

    clusters = tmp_path / "clusters.jsonl"
    clusters.write_text("{}\n")

    def vanished(path, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", str(path))

    monkeypatch.setattr(summaries, "evaluate_summaries", vanished)
    assert cli.main(["--db", str(db), "eval", "summaries", str(clusters)]) == 1
    assert capsys.readouterr().err == f"error: {clusters}: No such file or directory\n"


def test_log_export_into_a_pipe_closed_early_exits_quietly(tmp_path):
    db = tmp_path / "nd.db"

    async def write() -> None:
        store = await SqliteStore.open(db)
        try:
            for i in range(200):  # ~400 KB of JSONL: more than a pipe holds
                await store.log_interaction("ask", input=f"question {i}", answer="An answer. " * 200)
        finally:
            await store.close()

    asyncio.run(write())
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")} | {"PYTHONPATH": str(ROOT)}
    # `newsdesk log export | head -1`: the reader takes one line and goes.
    proc = subprocess.Popen(
        [sys.executable, "-m", "knowledge.cli", "--db", str(db), "log", "export"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    code = proc.wait(timeout=120)
    assert first["input"] == "question 0"
    assert err == ""  # no BrokenPipeError traceback, no "Exception ignored" at exit
    assert code == 141  # as a shell reports a process ended by SIGPIPE


def test_brief_help_says_since_goes_back_a_year_at_most(capsys):
    with pytest.raises(SystemExit):
        cli.main(["brief", "--help"])
    assert "at most a year back" in " ".join(capsys.readouterr().out.split())
