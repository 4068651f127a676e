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


@pytest.mark.model
def test_python_m_bot_without_a_token_opens_the_console(tmp_path, seed_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEWSDESK_", "BRIEFING_"))}
    env.update(
        DISCORD_TOKEN="",
        NEWSDESK_DB=str(tmp_path / "nd.db"),
        NEWSDESK_SEEDS=str(seed_dir),
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        input="ask When did the council approve the tram line?\nquit\n",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "newsdesk console" in result.stdout
    assert "couldn't find" not in result.stdout
    assert "The city council approved the new eastern tram line on Thursday" in result.stdout
    assert "Sources:" in result.stdout and "[1] Council approves tram line" in result.stdout


def test_bad_settings_exit_with_a_message_and_no_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEWSDESK_", "BRIEFING_"))}
    env.update(BRIEFING_TIME="8 o'clock", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "bot"], input="", cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2
    assert "BRIEFING_TIME" in result.stderr and "Traceback" not in result.stderr
