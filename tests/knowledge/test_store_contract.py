"""The storage contract (``backends.interface``), one class per operation, each test run on both
engines through the ``backend`` fixture (a SQLite file, an empty PostgreSQL database). Written
against the interface only: an engine that passes here can stand behind ``KnowledgeBase``.

As haystack's ``testing/document_store.py``: what every store must do, in one place."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator

import numpy as np
import pytest
import pytest_asyncio

from knowledge import backends
from knowledge.backends.interface import DocumentWrite, SearchIndex, Store, Written
from knowledge.chunking import chunk_paragraphs
from knowledge.clock import utcnow
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.errors import DuplicateDocument
from knowledge.models import NewDocument
from knowledge.retrieval import search_tokens
from knowledge.scope import GLOBAL_SCOPE

MODEL = "model-a"
EMBEDDER = HashingEmbedder(dim=16, model_id=MODEL)
GUILD = 7


def _write(
    title: str,
    paragraphs: list[str],
    *,
    guild_id: int | None = None,
    published: dt.date | None = None,
    replace_id: int | None = None,
    added_at: dt.datetime | None = None,
) -> DocumentWrite:
    passages = chunk_paragraphs(paragraphs, title=title)
    text = "\n\n".join(paragraphs)
    doc = NewDocument(
        title=title,
        source=None,
        published=published,
        author=None,
        guild_id=guild_id,
        origin=f"{title}.txt",
        content_hash=f"hash-{title}",
        text=text,
        words=len(text.split()),
    )
    return DocumentWrite(doc, passages, EMBEDDER.encode([p.text for p in passages]), replace_id, added_at)


async def _insert(store: Store, w: DocumentWrite) -> tuple[int, list[int]]:
    return await store.insert_document(
        w.doc, w.passages, w.vectors, MODEL, replace_id=w.replace_id, added_at=w.added_at
    )


@pytest.fixture(params=["sqlite", "postgres", "postgres-sql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every engine, PostgreSQL's with either lexical engine (pg_textsearch's, or BM25 in SQL where
    the extension cannot be created)."""
    return request.param


@pytest_asyncio.fixture(loop_scope="function")
async def store(db: str) -> AsyncIterator[Store]:
    opened = await backends.open_store(KnowledgeConfig().with_db(db))
    try:
        yield opened
    finally:
        await opened.close()


@pytest_asyncio.fixture(loop_scope="function")
async def searchable(db: str) -> AsyncIterator[tuple[Store, SearchIndex]]:
    backend = await backends.open_backend(KnowledgeConfig().with_db(db))
    index = await backend.search_index(MODEL)
    try:
        yield backend.store, index
    finally:
        await index.close()
        await backend.close()


# ---------------------------------------------------------------------------- documents


class TestInsertDocuments:
    async def test_a_batch_gets_increasing_ids_and_reads_back(self, store: Store) -> None:
        writes = [_write("Tram", ["The council approved the tram."]), _write("Dock", ["Dock workers went back."])]
        written = await store.insert_documents(writes, MODEL)
        assert [doc_id for doc_id, _ in written] == sorted(doc_id for doc_id, _ in written)
        for w, (doc_id, pids) in zip(writes, written, strict=True):
            doc = await store.get_document(doc_id)
            assert doc is not None and doc.title == w.doc.title and doc.passages == len(pids) == len(w.passages)
            assert [p.id for p in await store.passages_of_documents([doc_id])] == pids

    async def test_a_duplicate_in_the_batch_writes_nothing_of_it(self, store: Store) -> None:
        await _insert(store, _write("Dock", ["Dock workers went back."]))
        with pytest.raises(DuplicateDocument):
            await store.insert_documents(
                [_write("Tram", ["The tram."]), _write("Dock", ["Dock workers went back."])], MODEL
            )
        assert await store.count_documents() == 1 and await store.count_passages() == 1

    async def test_wrong_number_of_vectors_is_refused_and_writes_nothing(self, store: Store) -> None:
        w = _write("Mismatch", ["One.", "x " * 100, "Three."])
        with pytest.raises(ValueError):
            await store.insert_documents([DocumentWrite(w.doc, w.passages, w.vectors[:-1])], MODEL)
        assert await store.count_documents() == 0

    async def test_an_empty_batch_writes_nothing(self, store: Store) -> None:
        assert await store.insert_documents([], MODEL) == []


class TestInsertDocument:
    async def test_the_same_content_is_stored_once_per_scope(self, store: Store) -> None:
        await _insert(store, _write("Dock", ["Dock workers went back."]))
        with pytest.raises(DuplicateDocument):
            await _insert(store, _write("Dock", ["Dock workers went back."]))
        await _insert(store, _write("Dock", ["Dock workers went back."], guild_id=GUILD))  # another scope
        assert await store.count_documents() == 2

    async def test_a_replacement_removes_the_old_document_in_the_same_write(self, store: Store) -> None:
        old_id, _ = await _insert(store, _write("Old", ["The old text."]))
        new_id, new_pids = await _insert(store, _write("New", ["The new text."], replace_id=old_id))
        assert await store.get_document(old_id) is None
        assert [d.id for d in await store.list_documents()] == [new_id]
        assert [p.text for p in await store.passages_of_documents([new_id])] == ["The new text."]
        assert await store.count_passages() == len(new_pids)

    async def test_the_added_time_is_kept(self, store: Store) -> None:
        at = dt.datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=dt.UTC)
        doc_id, _ = await _insert(store, _write("Dated", ["Text."], added_at=at))
        doc = await store.get_document(doc_id)
        assert doc is not None and doc.added_at == at


class TestDeleteDocument:
    async def test_returns_its_passages_and_leaves_the_others(self, store: Store) -> None:
        keep_id, keep_pids = await _insert(store, _write("Keep", ["Harbour cranes stood idle."]))
        gone_id, gone_pids = await _insert(store, _write("Gone", ["Zanzibar spice markets.", "x " * 100]))
        assert sorted(await store.delete_document(gone_id)) == sorted(gone_pids)
        assert await store.get_document(gone_id) is None
        assert await store.passages_with_documents(gone_pids) == {}
        assert await store.count_passages() == len(keep_pids)
        assert await store.get_document(keep_id) is not None

    async def test_a_removed_file_is_remembered_per_scope_with_its_last_content(self, store: Store) -> None:
        doc_id, _ = await _insert(store, _write("Seed", ["The sample article."]))
        doc = await store.get_document(doc_id)
        assert doc is not None and await store.removed_file_hash("Seed.txt", None) is None
        await store.record_removed_file(doc)
        assert await store.removed_file_hash("Seed.txt", None) == "hash-Seed"
        assert await store.removed_file_hash("Seed.txt", GUILD) is None
        await store.record_removed_file(dataclasses.replace(doc, content_hash="hash-edited"))
        assert await store.removed_file_hash("Seed.txt", None) == "hash-edited"

    async def test_an_id_that_names_no_document(self, store: Store) -> None:
        assert await store.delete_document(12345) == []
        assert await store.delete_document(10**20) == []  # past 64 bits: no row, no overflow


class TestFindDocuments:
    async def test_by_hash_per_scope(self, store: Store) -> None:
        w = _write("Tram", ["The tram."], guild_id=GUILD)
        doc_id, _ = await _insert(store, w)
        found = await store.find_by_hashes([(w.doc.content_hash, GUILD), (w.doc.content_hash, None), ("nope", None)])
        assert list(found) == [(w.doc.content_hash, GUILD)] and found[(w.doc.content_hash, GUILD)].id == doc_id

    async def test_by_origin_per_scope(self, store: Store) -> None:
        doc_id, _ = await _insert(store, _write("Tram", ["The tram."]))
        found = await store.find_by_origin("Tram.txt", None)
        assert found is not None and found.id == doc_id
        assert await store.find_by_origin("Tram.txt", GUILD) is None


class TestGetDocument:
    async def test_counts_its_passages(self, store: Store) -> None:
        doc_id, pids = await _insert(store, _write("Long", ["One paragraph.", "x " * 100, "Another one."]))
        doc = await store.get_document(doc_id)
        assert doc is not None and doc.passages == len(pids) > 1

    async def test_an_id_that_names_no_document(self, store: Store) -> None:
        assert await store.get_document(999) is None and await store.get_document(10**20) is None


class TestListDocuments:
    async def _three(self, store: Store) -> dict[str, int]:
        ids = {}
        for title, guild, day in (("Global", None, 1), ("Mine", GUILD, 2), ("Theirs", GUILD + 1, 3)):
            at = dt.datetime(2026, 1, day, tzinfo=dt.UTC)
            ids[title], _ = await _insert(
                store, _write(title, [f"{title} text."], guild_id=guild, published=dt.date(2025, 1, day), added_at=at)
            )
        return ids

    @pytest.mark.parametrize(
        ("scope", "visible"),
        [(None, {"Global", "Mine", "Theirs"}), (GLOBAL_SCOPE, {"Global"}), (GUILD, {"Global", "Mine"})],
    )
    async def test_by_scope(self, store: Store, scope: int | None, visible: set[str]) -> None:
        await self._three(store)
        assert {d.title for d in await store.list_documents(scope=scope)} == visible
        assert await store.count_documents(scope=scope) == len(visible)

    async def test_newest_first_with_windows_and_pages(self, store: Store) -> None:
        await self._three(store)
        assert [d.title for d in await store.list_documents()] == ["Theirs", "Mine", "Global"]
        since = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
        assert [d.title for d in await store.list_documents(added_since=since)] == ["Theirs", "Mine"]
        assert [d.title for d in await store.list_documents(added_until=since)] == ["Global"]
        published = await store.list_documents(published_from=dt.date(2025, 1, 2), published_to=dt.date(2025, 1, 2))
        assert [d.title for d in published] == ["Mine"]
        assert [d.title for d in await store.list_documents(limit=1, offset=1)] == ["Mine"]
        assert await store.list_documents(offset=10**20) == []

    async def test_title_search_ignores_case_and_reads_like_syntax_literally(self, store: Store) -> None:
        await self._three(store)
        assert [d.title for d in await store.list_documents(title_like="MINE")] == ["Mine"]
        assert await store.list_documents(title_like="%") == []


class TestTexts:
    async def test_a_document_text_and_many(self, store: Store) -> None:
        a, _ = await _insert(store, _write("A", ["Alpha text."]))
        b, _ = await _insert(store, _write("B", ["Beta text."]))
        assert await store.document_text(a) == "Alpha text."
        assert await store.document_texts([a, b, a, 10**20]) == {a: "Alpha text.", b: "Beta text."}
        assert await store.document_text(999) is None


class TestPassages:
    async def test_with_their_documents_and_in_order(self, store: Store) -> None:
        doc_id, pids = await _insert(store, _write("Long", ["One paragraph.", "x " * 100, "Another one."]))
        rows = await store.passages_with_documents(pids)
        assert set(rows) == set(pids) and all(doc.id == doc_id for _, doc in rows.values())
        ordered = await store.passages_of_documents([doc_id])
        assert [p.ordinal for p in ordered] == sorted(p.ordinal for p in ordered)
        assert await store.passages_with_documents([]) == {} and await store.passages_of_documents([]) == []


class TestVectors:
    async def test_stored_vectors_are_found_by_text_hash_per_model(self, store: Store) -> None:
        w = _write("Tram", ["The council approved the tram."])
        await _insert(store, w)
        known = await store.vectors_by_hash(MODEL, [p.text_hash for p in w.passages])
        assert set(known) == {p.text_hash for p in w.passages}
        got = np.frombuffer(known[w.passages[0].text_hash], dtype="<f4")
        assert np.allclose(got, w.vectors[0], atol=1e-6)
        assert await store.vectors_by_hash("model-b", [p.text_hash for p in w.passages]) == {}

    async def test_passages_missing_a_models_vector_until_it_is_added(self, store: Store) -> None:
        _, pids = await _insert(store, _write("Tram", ["The council approved the tram."]))
        missing = await store.passages_missing_vectors("model-b")
        assert [pid for pid, _, _ in missing] == pids and missing[0][1] == "Tram"
        await store.add_vectors("model-b", [(pid, np.ones(8, np.float32)) for pid in pids])
        assert await store.passages_missing_vectors("model-b") == []
        assert await store.passages_missing_vectors(MODEL) == []

    async def test_only_the_passages_without_a_models_vector_are_missing(self, store: Store) -> None:
        long = ["The council approved the tram line. " * 20, "Work on the depot starts in May. " * 20]
        _, pids = await _insert(store, _write("Tram", long))
        assert len(pids) == 2
        await store.add_vectors("model-b", [(pids[0], np.ones(8, np.float32))])
        assert [pid for pid, _, _ in await store.passages_missing_vectors("model-b")] == pids[1:]


class TestExport:
    async def test_documents_passages_and_vectors_as_stored(self, store: Store) -> None:
        w = _write("Tram", ["The council approved the tram.", "x " * 100], published=dt.date(2024, 3, 7))
        doc_id, pids = await _insert(store, w)
        assert await store.document_ids() == [doc_id]
        docs, passages, vectors = await store.export_documents([doc_id])
        assert [d["id"] for d in docs] == [doc_id] and docs[0]["published"] == "2024-03-07"
        assert [p["id"] for p in passages] == pids
        assert set(vectors) == {MODEL} and set(vectors[MODEL]) == set(pids)
        assert np.allclose(vectors[MODEL][pids[0]], w.vectors[0], atol=1e-6)

    async def test_ids_given_out_are_at_least_the_largest_stored(self, store: Store) -> None:
        doc_id, _ = await _insert(store, _write("Tram", ["The tram."]))
        await store.delete_document(doc_id)
        # Where the engine remembers removed ids, a copy must not give them out again.
        assert (await store.issued_ids()).get("documents", doc_id) >= doc_id


# ---------------------------------------------------------------------------- the log and setup store


class TestInteractionLog:
    async def test_rows_read_back_in_order_and_by_filter(self, store: Store) -> None:
        first = await store.log_interaction("ask", input="why?", outcome="answered", passage_ids=[3], scores=[0.5])
        second = await store.log_interaction("feedback", outcome="up", ref_id=first, user_id=9, guild_id=GUILD)
        assert second > first
        row = await store.interaction(first)
        assert row is not None and row.input == "why?" and row.passage_ids == [3] and row.scores == [0.5]
        assert [r.id for r in await store.interactions()] == [first, second]
        assert [r.id for r in await store.interactions(kind="feedback")] == [second]
        assert [r.id for r in await store.interactions(guild_id=GUILD)] == [second]
        assert await store.interaction(10**20) is None

    async def test_stats_count_questions_refusals_and_last_votes(self, store: Store) -> None:
        asked = await store.log_interaction("ask", input="Where?", outcome="abstained")
        await store.log_interaction("ask", input="where?", outcome="abstained")
        await store.log_interaction("feedback", outcome="up", ref_id=asked, user_id=1)
        await store.log_interaction("feedback", outcome="down", ref_id=asked, user_id=1)  # changed their mind
        stats = await store.interaction_stats(days=1)
        assert (stats.questions, stats.refusals, stats.thumbs_up, stats.thumbs_down) == (2, 2, 0, 1)
        assert stats.unanswered[0][1] == 2


class TestBriefingPosts:
    async def test_a_day_is_claimed_once_per_channel(self, store: Store) -> None:
        day = dt.date(2026, 5, 1)
        assert await store.record_briefing_post(channel_id=5, day=day, guild_id=GUILD)
        assert not await store.record_briefing_post(channel_id=5, day=day, guild_id=GUILD)
        assert await store.record_briefing_post(channel_id=6, day=day)
        assert await store.briefing_posted(5, day) and not await store.briefing_posted(5, day + dt.timedelta(days=1))
        assert await store.last_briefing_at(5) is not None and await store.last_briefing_at(99) is None
        assert len(await store.export_briefing_posts()) == 2


class TestGuildSettings:
    async def test_briefing_and_moderator_role(self, store: Store) -> None:
        assert not (await store.guild_settings(GUILD)).briefing_configured
        await store.set_guild_briefing(GUILD, channel_id=5, at=dt.time(7, 30), tz="Europe/Paris")
        await store.set_guild_moderator_role(GUILD, 11)
        settings = await store.guild_settings(GUILD)
        assert (settings.briefing_channel_id, settings.briefing_time, settings.briefing_tz) == (
            5,
            dt.time(7, 30),
            "Europe/Paris",
        )
        assert settings.briefing_enabled and settings.moderator_role_id == 11
        assert [g.guild_id for g in await store.guild_briefings()] == [GUILD]
        assert await store.disable_guild_briefing(GUILD) and not await store.disable_guild_briefing(GUILD)
        assert await store.guild_briefings() == []


class TestAskChannels:
    async def test_toggled_on_and_off(self, store: Store) -> None:
        assert await store.toggle_ask_channel(GUILD, 5)
        assert await store.toggle_ask_channel(GUILD + 1, 6)
        assert await store.ask_channels(GUILD) == [5] and sorted(await store.ask_channels()) == [5, 6]
        assert not await store.toggle_ask_channel(GUILD, 5)
        assert await store.ask_channels(GUILD) == []


class TestFeeds:
    async def test_followed_once_per_scope_and_listed(self, store: Store) -> None:
        feed = await store.insert_feed(guild_id=GUILD, url="https://example.org/rss", title="Example")
        assert feed is not None and feed.failures == 0
        assert await store.insert_feed(guild_id=GUILD, url="https://example.org/rss", title="Again") is None
        assert await store.insert_feed(guild_id=None, url="https://example.org/rss", title="Global") is not None
        assert await store.feed_by_url("https://example.org/rss", GUILD) == feed
        assert [f.id for f in await store.list_feeds(scope=GUILD)] == [feed.id]
        assert len(await store.list_feeds()) == 2
        assert await store.delete_feed(feed.id) and await store.feed(feed.id) is None

    async def test_polls_back_off_and_entries_are_seen_once(self, store: Store) -> None:
        feed = await store.insert_feed(guild_id=None, url="https://example.org/rss", title="Example")
        assert feed is not None
        now = utcnow()
        assert [f.id for f in await store.feeds_due(now)] == [feed.id]
        assert (
            await store.record_feed_failure(feed.id, at=now, error="boom", next_poll_at=now + dt.timedelta(hours=1))
            == 1
        )
        assert await store.feeds_due(now) == []
        await store.record_feed_success(feed.id, at=now, next_poll_at=now, etag='"v1"', last_modified=None)
        again = await store.feed(feed.id)
        assert again is not None and again.failures == 0 and again.etag == '"v1"'
        assert not await store.feed_entry_seen(feed, entry_key="guid-1", content_hash="c1")
        await store.record_feed_entry(feed.id, entry_key="guid-1", content_hash="c1", document_id=None, at=now)
        assert await store.feed_entry_seen(feed, entry_key="guid-1", content_hash="other")
        assert await store.feed_entry_seen(feed, entry_key="guid-2", content_hash="c1")  # re-posted story


# ---------------------------------------------------------------------------- the search index


async def _indexed(store: Store, index: SearchIndex, w: DocumentWrite) -> Written:
    doc_id, pids = await _insert(store, w)
    written = Written(w, doc_id, pids)
    await index.add_documents([written])
    return written


class TestSearchIndex:
    async def test_both_sides_find_a_passage(self, searchable: tuple[Store, SearchIndex]) -> None:
        store, index = searchable
        tram = await _indexed(store, index, _write("Tram", ["The council approved the eastern tram line."]))
        await _indexed(store, index, _write("Glacier", ["The glacier lost forty metres of ice."]))
        query = "eastern tram line"
        found = await index.search(EMBEDDER.encode([query])[0], search_tokens(query), 10, words=query)
        assert found.dense[0][0] == tram.passage_ids[0] and found.bm25[0][0] == tram.passage_ids[0]
        assert len(found.dense) == 2 and len(found.bm25) == 1  # BM25 finds only what holds a term
        assert await index.size() == 2

    async def test_scope_and_dates_filter_both_sides(self, searchable: tuple[Store, SearchIndex]) -> None:
        store, index = searchable
        mine = await _indexed(
            store, index, _write("Mine", ["Tram news here."], guild_id=GUILD, published=dt.date(2024, 5, 1))
        )
        theirs = await _indexed(store, index, _write("Theirs", ["Tram news there."], guild_id=GUILD + 1))
        undated = await _indexed(store, index, _write("Undated", ["Tram news anywhere."]))
        vector, terms = EMBEDDER.encode(["tram news"])[0], search_tokens("tram news")

        def ids(found) -> set[int]:
            return {pid for pid, _ in found.dense} | {pid for pid, _ in found.bm25}

        scoped = await index.search(vector, terms, 10, scope=GUILD, words="tram news")
        assert ids(scoped) == {mine.passage_ids[0], undated.passage_ids[0]}
        dated = await index.search(
            vector, terms, 10, date_from=dt.date(2024, 4, 1), date_to=dt.date(2024, 6, 1), words="tram news"
        )
        assert ids(dated) == {mine.passage_ids[0]}  # an undated passage passes no date bound
        assert theirs.passage_ids[0] in ids(await index.search(vector, terms, 10, words="tram news"))

    async def test_term_statistics_and_vectors(self, searchable: tuple[Store, SearchIndex]) -> None:
        store, index = searchable
        a = await _indexed(store, index, _write("A", ["Tram and harbour."]))
        await _indexed(store, index, _write("B", ["Tram only."]))
        terms = search_tokens("tram harbour glacier")
        found = await index.search(EMBEDDER.encode(["tram"])[0], terms, 10, words="tram harbour glacier")
        counts, passages = await index.term_statistics(terms, found.view)
        assert counts == {"tram": 2, "harbour": 1, "glacier": 0} and passages == 2
        vectors = await index.vectors(a.passage_ids)
        assert list(vectors) == a.passage_ids
        assert np.allclose(vectors[a.passage_ids[0]], a.write.vectors[0], atol=1e-6)

    async def test_a_removed_document_is_found_no_more(self, searchable: tuple[Store, SearchIndex]) -> None:
        store, index = searchable
        gone = await _indexed(store, index, _write("Gone", ["Zanzibar spice markets reopened."]))
        await store.delete_document(gone.doc_id)
        await index.remove_document(gone.doc_id)
        found = await index.search(
            EMBEDDER.encode(["zanzibar"])[0], search_tokens("zanzibar spice"), 10, words="zanzibar spice"
        )
        assert found.dense == [] and found.bm25 == []

    async def test_a_replacement_is_seen_whole(self, searchable: tuple[Store, SearchIndex]) -> None:
        store, index = searchable
        old = await _indexed(store, index, _write("Old", ["Ferry timetable for winter."]))
        new = await _indexed(store, index, _write("New", ["Ferry timetable for summer."], replace_id=old.doc_id))
        found = await index.search(
            EMBEDDER.encode(["ferry"])[0], search_tokens("ferry timetable"), 10, words="ferry timetable"
        )
        assert {pid for pid, _ in found.dense} == {pid for pid, _ in found.bm25} == set(new.passage_ids)
