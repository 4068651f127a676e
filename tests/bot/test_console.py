"""The terminal console (no DISCORD_TOKEN): the same commands over the same knowledge base, driven
through piped input."""

import io

import pytest

from bot.console import run_console

pytestmark = pytest.mark.asyncio(loop_scope="session")


def lines(*commands: str):
    feed = iter([c + "\n" for c in commands])
    return lambda: next(feed, "")


async def test_console_commands_work_from_piped_input(settings, embedder, tmp_path):
    note = tmp_path / "strike.txt"
    note.write_text("Port strike\n\nDock workers in Rotterdam stopped work on Monday over pay.\n")
    out = io.StringIO()
    await run_console(
        settings,
        embedder=embedder,
        out=out,
        interactive=False,
        read_line=lines(
            "help",
            f"doc add {note}",
            "doc list",
            "ask Why did dock workers in Rotterdam strike?",
            "brief",
            "stats",
            "doc remove 4",
            "doc list",
            "frobnicate",
            "quit",
            "ask never reached",
        ),
    )
    text = out.getvalue()
    assert "doc add PATH" in text  # help
    assert "added #4 Port strike" in text
    assert "page 1 of 1, 4 document(s)" in text
    assert "Dock workers in Rotterdam stopped work on Monday over pay. [1]" in text
    assert "[1] Port strike" in text
    assert "questions: 1" in text  # stats saw the ask
    assert "removed #4 Port strike" in text
    assert "page 1 of 1, 3 document(s)" in text
    assert "Unknown command" in text
    assert "never reached" not in text


async def test_console_reports_errors_without_a_traceback(settings, embedder, tmp_path):
    out = io.StringIO()
    await run_console(
        settings,
        embedder=embedder,
        out=out,
        interactive=False,
        read_line=lines(f"doc add {tmp_path / 'photo.png'}", "doc remove 999"),
    )
    text = out.getvalue()
    assert "error: photo.png: unsupported file type .png" in text
    assert "error: no document #999" in text
    assert "Traceback" not in text


async def test_a_question_after_a_question_is_a_follow_up_until_reset(settings, embedder):
    from bot.console import Console
    from knowledge import KnowledgeBase

    async with await KnowledgeBase.open(settings.knowledge, embedder=embedder) as kb:
        await kb.index_paths(list(settings.seeds))
        histories = []
        ask = kb.ask

        async def spying_ask(question, **kwargs):
            histories.append(list(kwargs.get("history") or []))
            return await ask(question, **kwargs)

        kb.ask = spying_ask  # type: ignore[method-assign]
        out = io.StringIO()
        console = Console(kb, settings, out=out)
        for line in ("ask When did the council approve the tram line?", "ask And what will it cost?", "reset"):
            await console.handle(line)
        await console.handle("ask And what will it cost?")
    # Like a Discord thread: the second question is read with the first and its answer.
    assert histories[0] == []
    assert histories[1][0] == "When did the council approve the tram line?" and len(histories[1]) == 2
    assert "tram line on Thursday" in histories[1][1]
    assert "400 million euros" in out.getvalue().split("Conversation reset")[0]
    assert histories[2] == []  # after reset
