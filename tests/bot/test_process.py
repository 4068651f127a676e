"""Whole-process checks (plain, synchronous tests): importing the bot starts nothing, and
``python -m bot`` without a token opens the console over the real model."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_bot_starts_nothing():
    code = textwrap.dedent("""
        import threading, bot.app, bot.render, bot.console, bot.__main__
        import bot.cogs.asking, bot.cogs.documents, bot.cogs.briefings, bot.cogs.admin
        import sys
        print(threading.active_count(), 'sentence_transformers' in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "False"]


def _console_env(tmp_path: Path, seeds: Path, **extra: str) -> dict[str, str]:
    """``python -m bot`` without a token, as a newcomer runs it: no LOG_LEVEL unless given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEWSDESK_", "BRIEFING_", "LOG_"))}
    env.update(DISCORD_TOKEN="", NEWSDESK_DB=str(tmp_path / "nd.db"), NEWSDESK_SEEDS=str(seeds), PYTHONPATH=str(ROOT))
    return env | extra


@pytest.mark.model
def test_python_m_bot_without_a_token_opens_the_console(tmp_path, seed_dir):
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        input="When did the council approve the tram line?\nquit\n",  # a question typed without `ask`
        cwd=tmp_path,
        env=_console_env(tmp_path, seed_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "newsdesk console" in result.stdout and "Loading the language model" in result.stdout
    assert "couldn't find" not in result.stdout
    assert "The city council approved the new eastern tram line on Thursday" in result.stdout
    assert "Sources:" in result.stdout and "[1] Council approves tram line" in result.stdout
    # The terminal shows stderr too: no INFO lines (they carried absolute paths) among the answers.
    assert " INFO " not in result.stderr and str(tmp_path) not in result.stderr, result.stderr


# The console with a model load that never ends.
NEVER_LOADS = """
import sys, threading
from knowledge import embed
embed.SentenceTransformerEmbedder.load = lambda self: threading.Event().wait()
from bot.__main__ import main
sys.exit(main())
"""


def test_the_console_quits_while_the_model_is_loading_and_logs_warnings_only(tmp_path):
    seeds = tmp_path / "no-seeds"
    seeds.mkdir()
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "timeout": 120}
    command = [sys.executable, "-c", NEVER_LOADS]
    # A hang here (until the timeout) would be `quit` waiting for the load to end.
    result = subprocess.run(command, input="doc list\nquit\n", env=_console_env(tmp_path, seeds), **run)
    assert result.returncode == 0, result.stderr
    assert "Loading the language model in the background" in result.stdout
    assert "page 1 of 1, 0 documents" in result.stdout  # commands run while it loads
    # Opening a new database logs INFO lines naming its folder: not shown by default in the console...
    assert " INFO " not in result.stderr and str(tmp_path) not in result.stderr, result.stderr
    # ...and shown when LOG_LEVEL asks for them.
    env = _console_env(tmp_path, seeds, LOG_LEVEL="INFO", NEWSDESK_DB=str(tmp_path / "verbose.db"))
    verbose = subprocess.run(command, input="quit\n", env=env, **run)
    assert verbose.returncode == 0 and " INFO " in verbose.stderr and str(tmp_path) in verbose.stderr


def test_the_default_log_level_is_info_for_the_bot_and_warning_for_the_console():
    from bot.__main__ import log_level
    from bot.settings import Settings

    assert log_level(Settings.from_env({})) == "WARNING"
    assert log_level(Settings.from_env({"DISCORD_TOKEN": "t"})) == "INFO"
    assert log_level(Settings.from_env({"LOG_LEVEL": "debug"})) == "DEBUG"
    assert log_level(Settings.from_env({"LOG_LEVEL": "info"})) == "INFO"


def test_bad_settings_exit_with_a_message_and_no_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEWSDESK_", "BRIEFING_"))}
    env.update(BRIEFING_TIME="8 o'clock", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "bot"], input="", cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2
    assert "BRIEFING_TIME" in result.stderr and "Traceback" not in result.stderr
