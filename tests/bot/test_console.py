"""The terminal console (no DISCORD_TOKEN): the same commands over the same knowledge base, driven
through piped input."""

import asyncio
import dataclasses
import io
import json
import threading

import pytest

from bot.console import run_console, split_command
from knowledge.embed import HashingEmbedder

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
    assert "doc add PATH|URL" in text  # help
    assert "added #4 Port strike (1 passage)" in text
    assert "page 1 of 1, 4 documents" in text
    assert "Dock workers in Rotterdam stopped work on Monday over pay. [1]" in text
    assert "[1] Port strike" in text
    assert "questions: 1" in text  # stats saw the ask
    assert "removed #4 Port strike" in text
    assert "page 1 of 1, 3 documents" in text
    assert "Unknown command" not in text  # "frobnicate" is asked as a question
    assert "never reached" not in text


async def test_console_reports_errors_without_a_traceback(settings, embedder, tmp_path, caplog):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "empty.txt").write_text("")
    out = io.StringIO()
    with caplog.at_level("WARNING"):
        await run_console(
            settings,
            embedder=embedder,
            out=out,
            interactive=False,
            read_line=lines(f"doc add {tmp_path / 'photo.png'}", f"doc add {folder}", "doc remove 999"),
        )
    text = out.getvalue()
    assert "error: photo.png: unsupported file type .png" in text
    assert "error: empty.txt: the file is empty" in text
    assert "error: no document #999" in text
    assert "Traceback" not in text
    # Said once: the console prints each failed file, and the log (shown from WARNING up in the
    # terminal) does not repeat it.
    assert not [r for r in caplog.records if "empty.txt" in r.getMessage()]


async def test_a_question_after_a_question_is_a_follow_up_until_reset(settings, embedder):
    from bot.console import Console
    from knowledge import KnowledgeBase
    from knowledge.question import Reply

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
    assert isinstance(histories[1][1], Reply) and not isinstance(histories[1][0], Reply)
    assert "400 million euros" in out.getvalue().split("Conversation reset")[0]
    assert histories[2] == []  # after reset


# ---------------------------------------------------------------------------------------------- questions


async def handled(kb, settings, *lines_typed: str) -> str:
    from bot.console import Console

    out = io.StringIO()
    console = Console(kb, settings, out=out)
    for line in lines_typed:
        assert await console.handle(line) is True
    return out.getvalue()


@pytest.fixture
async def seeded_kb(settings, embedder):
    from knowledge import KnowledgeBase

    async with await KnowledgeBase.open(settings.knowledge, embedder=embedder) as kb:
        await kb.index_paths(list(settings.seeds))
        yield kb


async def test_a_question_typed_without_ask_is_answered(seeded_kb, settings):
    text = await handled(seeded_kb, settings, "When did the council approve the tram line?")
    assert "Unknown command" not in text
    assert "The city council approved the new eastern tram line on Thursday" in text and "Sources:" in text
    [row] = await seeded_kb.interactions(kind="ask")
    assert row.input == "When did the council approve the tram line?"


async def test_a_line_starting_with_a_command_word_and_ending_in_a_question_mark_is_a_question(seeded_kb, settings):
    text = await handled(seeded_kb, settings, "Brief me on the tram line: when was it approved?")
    assert "The city council approved the new eastern tram line on Thursday" in text
    assert "since" not in text  # not read as `brief` with a window "me on the tram line: ..."
    assert [r.kind for r in await seeded_kb.interactions()] == ["ask"]


async def test_commands_still_work_with_or_without_a_slash_and_help_stays_discoverable(seeded_kb, settings):
    text = await handled(seeded_kb, settings, "help", "/stats", "help?", "STATS 30")
    assert text.count("doc show ID") == 2  # help, then `help?` (one word: still help)
    assert "Usage, last 7 days" in text and "Usage, last 30 days" in text
    assert await seeded_kb.interactions(kind="ask") == []


# ---------------------------------------------------------------------------------------------- documents


async def test_document_commands_typed_without_doc_run_when_they_can_mean_nothing_else(seeded_kb, settings, tmp_path):
    # "add notes.txt" was a question: it quoted whatever shared a word with the file name.
    notes = tmp_path / "harbour.txt"
    notes.write_text("Harbour fees\n\nThe harbour board raised mooring fees by 12 percent on Monday.")
    text = await handled(seeded_kb, settings, f"add {notes}", "docs")
    [doc] = [d for d in await seeded_kb.list_documents() if d.title == "Harbour fees"]
    assert f"added #{doc.id} Harbour fees" in text and f"#{doc.id:<5} Harbour fees" in text
    text = await handled(seeded_kb, settings, f"show #{doc.id}", f"remove {doc.id}")
    assert "raised mooring fees" in text and f"removed #{doc.id} Harbour fees" in text
    assert await seeded_kb.interactions(kind="ask") == []
    # Where the rest could be a question, it is one.
    for line in ("add more detail on the tram line", "show me the tram line news", "list the council's plans"):
        assert split_command(line) == (None, [], line)
    assert split_command("documents") == ("doc", ["list"], "")
    assert split_command("delete #4") == ("doc", ["remove", "#4"], "#4")
    # A path that does not exist is still a path: "no such file", not an answer about the rest.
    missing = tmp_path / "harbor.txt"
    assert split_command(f"add {missing}") == ("doc", ["add", str(missing)], str(missing))
    assert split_command("add notes.md") == ("doc", ["add", "notes.md"], "notes.md")
    text = await handled(seeded_kb, settings, f"add {missing}")
    assert "error: harbor.txt: cannot read the file" in text and await seeded_kb.interactions(kind="ask") == []


async def test_doc_show_prints_a_documents_details_and_opening(seeded_kb, settings):
    [doc] = [d for d in await seeded_kb.list_documents() if d.title == "Council approves tram line"]
    text = await handled(seeded_kb, settings, f"doc show {doc.id}", f"doc show #{doc.id}", "doc show 999")
    assert text.count(f"#{doc.id} Council approves tram line") == 2
    assert "The city council approved the new eastern tram line" in text  # the opening
    assert "1 passage," in text and "visible everywhere" in text
    assert "error: no document #999" in text


async def test_doc_add_url_fetches_through_the_vetted_path(settings, embedder, loopback_server):
    from aiohttp import web

    from knowledge import KnowledgeBase

    page = "<html><head><title>Ferry line reopens</title></head><body><article><p>The ferry line between the"
    page += " two islands reopened on Friday after a month of repairs to its pier.</p></article></body></html>"

    async def ferry(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/ferry.html", ferry)
    async with loopback_server(app) as base:
        url = f"{base}/ferry.html"
        refused = settings.knowledge
        allowed = dataclasses.replace(refused, fetch_allow=("127.0.0.1",))
        async with await KnowledgeBase.open(refused, embedder=embedder) as kb:
            text = await handled(kb, settings, f"doc add {url}", "doc add ftp://files.example/a.txt")
            assert await kb.count_documents() == 0
        assert "error: " in text and "NEWSDESK_FETCH_ALLOW" in text  # a loopback address, not opted in
        assert "cannot read" not in text  # never taken for a file path
        async with await KnowledgeBase.open(allowed, embedder=embedder) as kb:
            text = await handled(kb, settings, f"doc add {url}")
            [doc] = await kb.list_documents()
            [row] = await kb.interactions(kind="doc_add")
    assert f"added #{doc.id} Ferry line reopens (1 passage)" in text
    assert doc.origin.startswith("http://127.0.0.1") and row.input == f"url {url}"


# ---------------------------------------------------------------------------------------------- the model


class SlowLoadingEmbedder(HashingEmbedder):
    """The fast embedder with a model load that lasts until the test lets it end."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.loaded = False

    def load(self) -> None:
        assert self.release.wait(timeout=120), "the test never released the load"
        self.loaded = True

    def encode(self, texts, *, bulk=False):
        assert self.loaded, "encoded before the model was loaded"
        return super().encode(texts, bulk=bulk)


async def test_the_model_loads_in_the_background_and_a_question_waits_for_it_with_a_notice(settings):
    from bot.console import Console
    from knowledge import KnowledgeBase

    embedder = SlowLoadingEmbedder()
    embedder.loaded = True  # indexing the seeds first
    async with await KnowledgeBase.open(settings.knowledge, embedder=embedder) as kb:
        await kb.index_paths(list(settings.seeds))
        embedder.loaded = False
        out = io.StringIO()
        console = Console(kb, settings, out=out)
        console.start_loading_model()
        assert "Loading the language model in the background" in out.getvalue()
        assert await console.handle("doc list") is True  # commands run while it loads
        assert "3 documents" in out.getvalue()
        asking = asyncio.create_task(console.handle("When did the council approve the tram line?"))
        for _ in range(1000):  # until the question is waiting for the model
            if "Waiting for the model" in out.getvalue():
                break
            await asyncio.sleep(0.01)
        assert "Waiting for the model to finish loading" in out.getvalue()
        assert not asking.done()
        embedder.release.set()
        assert await asking is True
    text = out.getvalue()
    assert text.index("Waiting for the model") < text.index("The model is ready") < text.index("tram line on Thursday")


# ---------------------------------------------------------------------------------------------- the log


async def test_the_console_logs_the_scores_of_what_it_cited_and_the_export_has_them(seeded_kb, settings, capsys):
    from knowledge import cli

    await handled(seeded_kb, settings, "When did the council approve the tram line?", "brief 30d")
    db = str(settings.knowledge.db)
    code = await asyncio.to_thread(cli.main, ["--db", db, "log", "export"])  # `newsdesk log export`, as typed
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and [r["kind"] for r in rows] == ["ask", "brief"]
    for row in rows:
        assert row["passage_ids"] and len(row["scores"]) == len(row["passage_ids"])
        assert all(isinstance(s, float) for s in row["scores"])


async def test_a_console_started_away_from_its_seeds_says_it_has_no_documents(settings, embedder, tmp_path):
    # The seeds path is relative: started from another folder, there is nothing indexed. Say so at
    # start, and a question gets "nothing to search", not "couldn't find this".
    away = dataclasses.replace(settings, seeds=(tmp_path / "elsewhere",))
    out = io.StringIO()
    await run_console(away, embedder=embedder, out=out, interactive=False, read_line=lines("Who won?"))
    text = out.getvalue()
    assert f"No documents yet (seed folders not found: {tmp_path / 'elsewhere'}; NEWSDESK_SEEDS)" in text
    assert "There are no documents to search yet" in text and "couldn't find" not in text

    seeded = io.StringIO()
    await run_console(settings, embedder=embedder, out=seeded, interactive=False, read_line=lines())
    assert "seeds: 3 added" in seeded.getvalue() and "No documents yet" not in seeded.getvalue()


async def test_a_seed_a_moderator_removed_stays_removed_across_starts_until_its_file_changes(settings, embedder):
    # The sample article came back on every start: seeding indexed the seeds folder again.
    from knowledge import KnowledgeBase

    await run_console(settings, embedder=embedder, out=io.StringIO(), interactive=False, read_line=lines())
    seed = sorted(settings.seeds[0].iterdir())[0]
    async with await KnowledgeBase.open(settings.knowledge, embedder=embedder) as kb:
        doc = next(d for d in await kb.list_documents() if d.origin == str(seed))
        await kb.remove_document(doc.id)
    restarted = io.StringIO()
    await run_console(settings, embedder=embedder, out=restarted, interactive=False, read_line=lines())
    assert "seeds:" not in restarted.getvalue()
    async with await KnowledgeBase.open(settings.knowledge, embedder=embedder) as kb:
        assert str(seed) not in {d.origin for d in await kb.list_documents()}
        assert await kb.count_documents() == 2
        # Asked for by name, it is indexed: only start-up seeding leaves it out.
        assert (await kb.index_paths([seed])).added
        await kb.remove_document(next(d.id for d in await kb.list_documents() if d.origin == str(seed)))
    # Its file edited since, it is new content: seeding takes it.
    seed.write_text(seed.read_text(encoding="utf-8") + "\n\nA line added after it was removed.\n", encoding="utf-8")
    edited = io.StringIO()
    await run_console(settings, embedder=embedder, out=edited, interactive=False, read_line=lines())
    assert "seeds: 1 added" in edited.getvalue()
