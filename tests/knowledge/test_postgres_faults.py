"""PostgreSQL faults, with real processes against a real server (issue 17, item 5): two processes
indexing the same file at once, the server stopped in the middle of indexing and of a question and
started again, and ``newsdesk migrate --to`` killed midway and run again.

The server here is this module's own (``PrivateServer``): stopping it disturbs no other test. Each
test holds the product at a known step by a lock of its own and waits until the database shows a
backend waiting there; no test sleeps for a guessed time or asserts on time."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from pg_faults import (
    PASSWORD,
    PATIENCE_S,
    PrivateServer,
    alive,
    blocked_by,
    finish,
    kill,
    last_line,
    query,
    scalar,
    shown,
    start_cli,
    table_locked,
    tables_written,
    wait_until,
)

from knowledge.backends import copy_store
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.errors import DatabaseError, KnowledgeError
from knowledge.service import KnowledgeBase, TextItem

DOCS = [
    TextItem(
        "Tram line approved\n\nThe council approved the eastern tram line on Thursday.", published=dt.date(2024, 3, 7)
    ),
    TextItem("Harbour strike ends\n\nDock workers accepted a pay offer and the harbour cranes moved again."),
    TextItem("Glacier retreat\n\nThe glacier lost forty metres of ice this summer, surveyors said."),
]


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    folder = Path(tempfile.mkdtemp(prefix="newsdesk-pg-faults-"))
    private = PrivateServer(folder)
    try:
        yield private
    finally:
        private.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def url(server: PrivateServer) -> Iterator[str]:
    """A fresh database on the private server; the server is running again after the test, whatever
    happened in it."""
    database = server.create_database()
    try:
        yield database
    finally:
        if not server.running:
            server.start()
        server.drop_database(database)


def _config(url: str) -> KnowledgeConfig:
    # A statement held at a test's lock must wait for the test, not fail on the lock timeout first.
    return replace(KnowledgeConfig(), db_busy_timeout_s=PATIENCE_S).with_db(url)


async def _open(url: str) -> KnowledgeBase:
    return await KnowledgeBase.open(_config(url), embedder=HashingEmbedder())


def _assert_clear(error: BaseException, url: str) -> None:
    """What a person sees of a fault: one line, naming the database, never its password."""
    message = str(error)
    assert isinstance(error, KnowledgeError), repr(error)
    assert "\n" not in message and message.strip() == message
    assert shown(url) in message, message
    assert PASSWORD not in message


# ---------------------------------------------------------------------------- a question


async def test_the_server_stopped_in_the_middle_of_a_question(server, url):
    """The service keeps running: the question in flight fails clearly, so does one asked while
    the server is down, and once it is back the next question is answered by the same service (its
    connections recover; nothing restarts)."""
    question = "When did the council approve the tram line?"
    kb = await _open(url)
    try:
        await kb.add_texts(DOCS)
        # Questions at once, as a busy bot's: the pool keeps several connections to this server.
        answers = await asyncio.gather(*(kb.ask(question) for _ in range(4)))
        assert not any(a.abstained for a in answers)
        blocker = await psycopg.AsyncConnection.connect(url)
        try:
            # Every question reads documents (titles, dates): it waits here, mid-question.
            await blocker.execute("LOCK TABLE documents IN ACCESS EXCLUSIVE MODE")
            asking = asyncio.create_task(kb.ask(question))
            while not await asyncio.to_thread(blocked_by, url, blocker.info.backend_pid):
                assert not asking.done(), asking
                await asyncio.sleep(0.05)
            await asyncio.to_thread(server.stop)
            with pytest.raises(DatabaseError) as in_flight:
                await asyncio.wait_for(asking, PATIENCE_S)
            _assert_clear(in_flight.value, url)
        finally:
            await blocker.close()  # its transaction died with the server
        with pytest.raises(DatabaseError) as while_down:
            await asyncio.wait_for(kb.ask(question), PATIENCE_S)
        _assert_clear(while_down.value, url)

        await asyncio.to_thread(server.start)
        answer = await asyncio.wait_for(kb.ask(question), PATIENCE_S)
        assert not answer.abstained and answer.citations[0].title == "Tram line approved"
        added = await kb.add_text("New bridge\n\nThe new bridge over the river opened to cyclists on Monday.")
        assert [h.document.id for h in await kb.search("bridge river cyclists", k=1)] == [added.id]
    finally:
        await kb.close()
    assert scalar(url, "SELECT COUNT(*) FROM documents") == 4


# ---------------------------------------------------------------------------- indexing

ARTICLE = """Night ferry returns to the islands

The night ferry between the two islands returns on 4 May, the port authority said on Tuesday. The
service stopped three years ago when the old ship failed its inspection, and islanders have since
relied on the last afternoon sailing or on private boats. The new ship carries two hundred people
and forty cars, and it was built at the yard on the northern island, which had been without a large
order for a decade. Tickets go on sale next week, at the same price as the day crossing.

Fishermen welcomed the news. The harbour master said the late sailing would let boats land their
catch in the evening and still reach the mainland market before dawn, which the afternoon ferry
never allowed. Hotels on the southern island expect more visitors from the mainland on Friday
nights, and two restaurants near the quay have already said they will stay open later in summer.

Not everyone is pleased. Residents of the quay district fear the noise of cars boarding after
midnight, and a petition asking for the last sailing to leave before eleven has gathered four
hundred signatures. The port authority said it would measure the noise during the first month and
publish the results, and that lorries would use the eastern ramp, away from the houses.

The ferry company will also run a direct bus from the quay to the hospital on the main island, a
journey that today takes two changes. Nurses on night shifts, who now sleep at the hospital between
shifts, said the bus would let them go home. The first sailing leaves the northern quay at 22:40."""


def _article(tmp_path: Path) -> Path:
    path = tmp_path / "ferry.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    return path


def _schema(url: str) -> None:
    """The database made (migrated), as a first process would leave it: the tests' locks name its
    tables."""

    async def open_and_close() -> None:
        await (await _open(url)).close()

    asyncio.run(open_and_close())


def _no_traceback(*outputs: str) -> None:
    for output in outputs:
        assert "Traceback" not in output and PASSWORD not in output, output


@pytest.mark.model
def test_two_processes_indexing_the_same_file_at_once_store_it_once(url, tmp_path):
    """Both processes are held at their first write until both are there, so each has found the
    file new before either writes it: the race itself, not a run after the other. One adds it; the
    other finds it indexed meanwhile, as a second run would ("unchanged"), and both exit 0."""
    note = _article(tmp_path)
    _schema(url)
    with table_locked(url, "documents", "SHARE") as blocker:  # reads go on; the documents' INSERT waits
        first, second = start_cli("--db", url, "index", str(note)), start_cli("--db", url, "index", str(note))
        try:
            wait_until(
                lambda: len(blocked_by(url, blocker)) == 2, "both at their first write", processes=(first, second)
            )
        except BaseException:
            kill(first)
            kill(second)
            raise
    results = [finish(first), finish(second)]
    for code, out, err in results:
        assert code == 0, (out, err)
        _no_traceback(out, err)
    summaries = sorted(out.strip().splitlines()[-1].split(";")[0] for _, out, _ in results)
    assert summaries == [
        "added 0, updated 0, unchanged 1, failed 0",
        "added 1, updated 0, unchanged 0, failed 0",
    ]
    [(doc_id, passages)] = query(url, "SELECT id, (SELECT COUNT(*) FROM passages) FROM documents")
    assert passages >= 3  # the article is several passages long: each is there once
    assert _complete(url) == {doc_id: passages}


def _lexical_table(url: str) -> str:
    """The lexical side's table, one or more rows per passage: the postings (BM25 in SQL), or
    pg_textsearch's texts where the database keeps that engine (``corpus_stats.lexical``)."""
    engine = query(url, "SELECT to_jsonb(c) ->> 'lexical' FROM corpus_stats c")[0][0]
    return "bm25_texts" if engine == "bm25" else "postings"


def _complete(url: str) -> dict[int, int]:
    """Each document's passage count, after checking that every passage has its vector and its
    lexical rows and every row its document (what a half-written document would break)."""
    lexical = _lexical_table(url)
    rows = query(
        url,
        "SELECT d.id, COUNT(p.id),"
        " COUNT(p.id) FILTER (WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.passage_id = p.id)),"
        f" COUNT(p.id) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {lexical} t WHERE t.passage_id = p.id)),"
        " COUNT(DISTINCT p.ordinal)"
        " FROM documents d LEFT JOIN passages p ON p.document_id = d.id GROUP BY d.id",
    )
    for doc_id, count, without_vector, without_lexical, ordinals in rows:
        assert count > 0 and without_vector == without_lexical == 0 and ordinals == count, (doc_id, rows)
    assert scalar(url, "SELECT COUNT(*) FROM passages WHERE document_id NOT IN (SELECT id FROM documents)") == 0
    for table in ("vectors", lexical):
        assert scalar(url, f"SELECT COUNT(*) FROM {table} WHERE passage_id NOT IN (SELECT id FROM passages)") == 0
    # BM25's statistics count each passage once.
    assert query(url, "SELECT passages FROM corpus_stats") == [(scalar(url, "SELECT COUNT(*) FROM passages"),)]
    return {doc_id: count for doc_id, count, *_ in rows}


@pytest.mark.model
def test_the_server_stopped_in_the_middle_of_indexing_leaves_no_half_document(server, url, tmp_path, real_embedder):
    """`newsdesk index` is held inside its document's transaction, with the document and its
    passages written and its vectors waiting, when the server stops: one line, exit 1. Started
    again, the server holds none of it; indexing again stores the whole document, and it answers."""
    note = _article(tmp_path)
    _schema(url)
    with table_locked(url, "vectors", "SHARE") as blocker:  # the document's vectors wait (COPY)
        indexing = start_cli("--db", url, "index", str(note))
        try:
            [pid] = wait_until(lambda: blocked_by(url, blocker), "the document's vectors waiting", processes=[indexing])
            # Mid-document: its transaction has written the document and its passages already.
            assert tables_written(url, pid) >= {"documents", "passages"}
            server.stop()
        except BaseException:
            kill(indexing)
            raise
    code, out, err = finish(indexing)
    assert code == 1, (out, err)
    _no_traceback(out, err)
    line = last_line(err)
    assert line.startswith("error: ") and shown(url) in line, err

    server.start()
    written = ("documents", "passages", "vectors", _lexical_table(url), "term_stats")
    assert {t: scalar(url, f"SELECT COUNT(*) FROM {t}") for t in written} == dict.fromkeys(written, 0)
    assert query(url, "SELECT passages, total_length FROM corpus_stats") == [(0, 0.0)]

    async def again() -> None:
        kb = await KnowledgeBase.open(_config(url), embedder=real_embedder)
        try:
            report = await kb.index_paths([note])
            assert [d.title for d in report.added] == ["Night ferry returns to the islands"] and not report.errors
            answer = await kb.ask("When does the night ferry return?")
            assert not answer.abstained and "4 May" in answer.text
        finally:
            await kb.close()

    asyncio.run(again())
    [(doc_id, passages)] = _complete(url).items()
    assert passages >= 3


# ---------------------------------------------------------------------------- migrate

TOPICS = ["tram", "harbour", "glacier", "library", "bridge", "market", "school", "river", "museum", "stadium"]


async def _old_store(path: Path) -> list[int]:
    """A SQLite store of 260 documents (three batches of the migration), a few removed (their ids
    are gaps a migration must keep), with a log and a briefing record; its document ids."""
    kb = await KnowledgeBase.open(KnowledgeConfig().with_db(str(path)), embedder=HashingEmbedder())
    try:
        items = [
            TextItem(
                f"Report {i} on the {TOPICS[i % 10]}\n\nThe {TOPICS[i % 10]} committee met for the {i}th time"
                f" and agreed on {i % 7 + 2} measures.\n\nA vote on the {TOPICS[(i + 3) % 10]} follows in week {i % 50}.",
                published=dt.date(2025, 1, 1) + dt.timedelta(days=i),
            )
            for i in range(260)
        ]
        report = await kb.add_texts(items)
        assert not report.errors
        for doc in (report.added[3], report.added[4], report.added[230]):
            await kb.remove_document(doc.id)
        for n in range(3):
            await kb.log_interaction("ask", input=f"question {n}", passage_ids=[report.added[n + 10].id])
        await kb.claim_briefing(channel_id=7, day=dt.date(2026, 1, 2), guild_id=3)
        return sorted(d.id for d in await kb.list_documents(limit=None))
    finally:
        await kb.close()


def test_migrate_killed_midway_then_run_again_ends_complete(server, url, tmp_path):
    """`newsdesk migrate --to` is SIGKILLed while it copies its third batch (the first two committed,
    the third half-written in its open transaction), then run again: the second run copies what is
    missing and says so, and the target ends as one uninterrupted run leaves it (ids kept, nothing
    twice)."""
    old = tmp_path / "old.db"
    ids = asyncio.run(_old_store(old))
    _schema(url)
    held = ids[210]  # in the third batch (documents 201-300 of the copy)
    with psycopg.connect(url) as holder:
        # The test's own uncommitted row with that id: the copy's insert of it waits for this
        # transaction to end, inside the copy's third transaction.
        holder.execute(
            "INSERT INTO documents (id, title, origin, content_hash, text, words, added_at)"
            " VALUES (%s, 'held', 'held', 'held', 'held', 1, '2026-01-01T00:00:00+00:00')",
            (held,),
        )
        migrating = start_cli("--db", str(old), "migrate", "--to", url)
        try:
            [pid] = wait_until(
                lambda: blocked_by(url, holder.info.backend_pid), "the third batch", processes=[migrating]
            )
            assert scalar(url, "SELECT COUNT(*) FROM documents") == 200  # two batches committed
            assert tables_written(url, pid) >= {"documents", "passages"}  # the third one under way
        finally:
            kill(migrating)
        assert migrating.returncode == -9
        holder.rollback()
    wait_until(lambda: not alive(url, pid), "the killed copy's transaction to end")
    assert scalar(url, "SELECT COUNT(*) FROM documents") == 200

    code, out, err = finish(start_cli("--db", str(old), "migrate", "--to", url))
    assert code == 0, (out, err)
    _no_traceback(out, err)
    assert out.startswith(f"copied {len(ids) - 200} documents (200 already there), ")
    assert "3 interaction-log rows, 1 briefing record from " in out and out.rstrip().endswith(f" into {shown(url)}")

    assert [i for (i,) in query(url, "SELECT id FROM documents ORDER BY id")] == ids
    reference = server.create_database()
    try:
        asyncio.run(copy_store(KnowledgeConfig().with_db(str(old)), reference))
        assert _fingerprint(url) == _fingerprint(reference)
    finally:
        server.drop_database(reference)
    _complete(url)


def _fingerprint(url: str) -> dict[str, str]:
    """Every table's rows (as text, sorted, hashed) and every sequence's position."""
    tables = [t for (t,) in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
    sequences = [s for (s,) in query(url, "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")]
    out = {
        t: query(
            url, f"SELECT COUNT(*) || ':' || md5(COALESCE(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x"
        )[0][0]
        for t in tables
    }
    out |= {s: str(query(url, f"SELECT last_value FROM {s}")[0][0]) for s in sequences}
    return out


# ---------------------------------------------------------------------------- removing


async def test_two_processes_removing_the_same_document_at_once_count_it_off_once(url):
    """Both removals read the document's passages before either commits (the first is held at its
    delete, the second waits behind it): BM25's corpus statistics must lose those passages once."""
    a, b = await _open(url), await _open(url)
    try:
        await a.add_texts(DOCS)
        [doc] = [d for d in await a.list_documents() if d.title == "Harbour strike ends"]
        with table_locked(url, "documents", "SHARE") as blocker:
            removals = [asyncio.create_task(kb.remove_document(doc.id)) for kb in (a, b)]
            while len(await asyncio.to_thread(_waiting, url)) < 2:
                assert not any(r.done() for r in removals), removals
                await asyncio.sleep(0.05)
            assert blocker in {p for pids in (await asyncio.to_thread(_waiting, url)).values() for p in pids}
        await asyncio.wait_for(asyncio.gather(*removals), PATIENCE_S)
        assert sorted(d.title for d in await a.list_documents()) == ["Glacier retreat", "Tram line approved"]
        hits = await b.search("glacier ice surveyors", k=3)
        assert hits and hits[0].document.title == "Glacier retreat"
    finally:
        await a.close()
        await b.close()
    _complete(url)  # with BM25's statistics: counted off once


def _waiting(url: str) -> dict[int, list[int]]:
    """Backends of this database waiting for a lock, with those they wait for."""
    rows = query(
        url,
        "SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0",
    )
    return {pid: list(pids) for pid, pids in rows}
