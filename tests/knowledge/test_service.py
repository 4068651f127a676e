"""knowledge.service.KnowledgeBase over a real SQLite file: incremental re-indexing, duplicates, bad
input (each a KnowledgeError naming the file, never a half-written document), guild scoping and date
filters; then the real model on the seed and a few news texts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from kb_helpers import lexical_rows_with, orphans, searchable_passages, table_counts

from knowledge import indexing
from knowledge.backends.sqlite import sqlite_store
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.errors import (
    CorruptFile,
    DocumentNotFound,
    DuplicateDocument,
    EmptyDocument,
    FileTooLarge,
    KnowledgeError,
    UndecodableText,
    UnsupportedFileType,
)
from knowledge.retrieval import fts_match_expression, stored_vectors
from knowledge.service import GLOBAL_SCOPE, KnowledgeBase, TextItem

ROOT = Path(__file__).resolve().parents[2]


class CountingEmbedder(HashingEmbedder):
    """The fast fake embedder, recording every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.encoded: list[str] = []

    def encode(self, texts, *, bulk=False):
        self.encoded.extend(texts)
        return super().encode(texts, bulk=bulk)


def _para(topic: str, n: int = 60) -> str:
    """A paragraph of about ``n`` words about ``topic``: two of these never pack into one passage."""
    words = f"{topic} officials said the {topic} report was published on Monday after a long review".split()
    return " ".join((words * (n // len(words) + 1))[:n]) + "."


FILES = {
    "harbour.txt": "Harbour strike ends\n\n" + "\n\n".join(_para(t) for t in ("harbour", "cranes", "wages")),
    "glacier.txt": "Glacier melt speeds up\n\n" + "\n\n".join(_para(t) for t in ("glacier", "meltwater")),
    "election.txt": "Mayor re-elected\n\n" + "\n\n".join(_para(t) for t in ("mayor", "ballots", "turnout")),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "news"
    d.mkdir()
    for name, text in FILES.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest_asyncio.fixture(loop_scope="function")
async def kb(db: str, embedder: CountingEmbedder):
    config = KnowledgeConfig(max_file_bytes=4096).with_db(db)
    kb = await KnowledgeBase.open(config, embedder=embedder)
    yield kb
    await kb.close()


async def _titles(kb: KnowledgeBase, query: str, **filters) -> list[str]:
    return [h.document.title for h in await kb.search(query, k=10, **filters)]


# ---------------------------------------------------------------------------------------------- incremental


async def test_first_index_adds_every_file(kb, folder):
    report = await kb.index_paths([folder])
    assert sorted(Path(d.origin).name for d in report.added) == sorted(FILES)
    assert not report.errors and not report.updated and not report.unchanged


async def test_reindexing_an_unchanged_folder_embeds_nothing(kb, folder, embedder):
    await kb.index_paths([folder])
    embedder.encoded.clear()
    report = await kb.index_paths([folder])
    assert len(report.unchanged) == len(FILES)
    assert not report.added and not report.updated and not report.errors
    assert embedder.encoded == []


async def test_reindexing_after_reopening_embeds_nothing(tmp_path, folder):
    config = KnowledgeConfig(db=tmp_path / "kb.db")
    async with await KnowledgeBase.open(config, embedder=CountingEmbedder()) as kb:
        await kb.index_paths([folder])
    again = CountingEmbedder()
    async with await KnowledgeBase.open(config, embedder=again) as kb:
        report = await kb.index_paths([folder])
    assert len(report.unchanged) == len(FILES)
    assert again.encoded == []


async def test_index_paths_in_several_embedding_batches_reports_every_file_once(kb, folder, monkeypatch):
    monkeypatch.setattr(indexing, "_BATCH_PASSAGES", 2)
    (folder / "table.csv").write_text("a,b", encoding="utf-8")
    seen: list[tuple[str, str]] = []
    report = await kb.index_paths([folder], progress=lambda path, status: seen.append((path.name, status)))
    assert sorted(seen) == sorted([(name, "added") for name in FILES] + [("table.csv", "error")])
    assert len(report.added) == len(FILES) and len(report.errors) == 1
    assert table_counts(kb)["passages"] == await searchable_passages(kb) == 8


async def test_add_texts_in_several_embedding_batches_indexes_everything(kb, monkeypatch):
    monkeypatch.setattr(indexing, "_BATCH_PASSAGES", 1)
    monkeypatch.setattr(indexing, "_PREPARE_DOCUMENTS", 2)
    items = [TextItem(f"Story {i}\n\nThe {i}th story about dams.") for i in range(5)] + [TextItem("")]
    report = await kb.add_texts(items)
    assert sorted(d.title for d in report.added) == [f"Story {i}" for i in range(5)]
    assert [type(e) for e in report.errors] == [EmptyDocument]


@pytest_asyncio.fixture(loop_scope="function")
async def changed(kb, folder, embedder):
    """The folder indexed, then one paragraph of one file rewritten and the folder indexed again."""
    first = await kb.index_paths([folder])
    before = {d.origin: d for d in first.added}
    old = before[str(folder / "harbour.txt")]
    old_passages = await kb.store.passages_of_documents([old.id])
    others = {d.id: [p.id for p in await kb.store.passages_of_documents([d.id])] for d in first.added if d.id != old.id}
    text = FILES["harbour.txt"].replace(_para("cranes"), _para("zeppelins"))
    (folder / "harbour.txt").write_text(text, encoding="utf-8")
    embedder.encoded.clear()
    report = await kb.index_paths([folder])
    return dict(report=report, old=old, old_passages=old_passages, others=others)


async def test_changed_file_is_reported_updated(changed):
    report = changed["report"]
    assert [Path(d.origin).name for d in report.updated] == ["harbour.txt"]
    assert len(report.unchanged) == len(FILES) - 1 and not report.added and not report.errors


async def test_changed_file_loses_its_old_passages(kb, changed):
    old_ids = [p.id for p in changed["old_passages"]]
    new = changed["report"].updated[0]
    remaining = {p.id: p for p in await kb.store.passages_of_documents([new.id])}
    assert not any("cranes" in p.text for p in remaining.values())
    assert "cranes" not in await kb.store.document_text(new.id)
    assert lexical_rows_with(kb, "cranes") == 0
    assert await searchable_passages(kb) == await kb.store.count_passages()  # the dense index dropped the old rows too
    assert orphans(kb) == 0
    assert len(old_ids) == len(remaining)


async def test_changed_file_new_text_is_searchable(kb, changed):
    hits = await kb.search("zeppelins", k=1)
    assert hits[0].document.title == "Harbour strike ends"
    assert "zeppelins" in hits[0].passage.text


async def test_changed_file_leaves_other_documents_untouched(kb, changed):
    for doc_id, passage_ids in changed["others"].items():
        assert [p.id for p in await kb.store.passages_of_documents([doc_id])] == passage_ids


async def test_changed_file_embeds_only_its_changed_passage(changed, embedder):
    assert len(embedder.encoded) == 1
    assert "zeppelins" in embedder.encoded[0]


async def test_changed_file_vectors_belong_to_their_passages(kb, changed):
    # reused vectors are looked up by text hash: each must land on the passage with that text
    new = changed["report"].updated[0]
    passages = await kb.store.passages_of_documents([new.id])
    row = await stored_vectors(kb, [p.id for p in passages])
    expected = HashingEmbedder().encode([f"Harbour strike ends. {p.text}" for p in passages])
    for p, vector in zip(passages, expected, strict=True):
        assert np.allclose(row[p.id], vector)


async def test_indexed_document_is_what_the_store_reads_back(kb):
    doc = await kb.add_text(
        "Dam opens\n\nThe new dam opened on the river.",
        published=dt.date(2024, 2, 29),
        source="River Times",
        guild_id=3,
    )
    assert doc == await kb.store.get_document(doc.id)
    assert doc.passages == 1 and doc.guild_id == 3 and doc.published == dt.date(2024, 2, 29)


# ---------------------------------------------------------------------------------------------- duplicates


async def test_duplicate_text_is_refused_naming_the_existing_document(kb):
    first = await kb.add_text("Dam opens\n\nThe new dam opened on the river.")
    with pytest.raises(DuplicateDocument) as e:
        await kb.add_text("Dam opens\n\nThe new dam opened on the river.")
    assert e.value.existing_id == first.id
    assert f"#{first.id}" in str(e.value)
    assert await kb.count_documents() == 1


async def test_duplicate_files_within_one_batch_index_once(kb, folder):
    (folder / "copy-of-glacier.txt").write_bytes((folder / "glacier.txt").read_bytes())
    report = await kb.index_paths([folder])
    assert len(report.added) == len(FILES)
    assert len(report.errors) == 1 and isinstance(report.errors[0], DuplicateDocument)
    assert "glacier.txt" in str(report.errors[0])
    assert orphans(kb) == 0


async def test_duplicate_texts_within_one_batch_index_once(kb):
    item = TextItem("Dam opens\n\nThe new dam opened on the river.")
    report = await kb.add_texts([item, item])
    assert len(report.added) == 1
    assert [type(e) for e in report.errors] == [DuplicateDocument]


async def test_same_file_in_two_guilds_is_not_a_duplicate(kb):
    await kb.add_text("Dam opens\n\nThe new dam opened on the river.", guild_id=1)
    await kb.add_text("Dam opens\n\nThe new dam opened on the river.", guild_id=2)
    assert await kb.count_documents() == 2


# ---------------------------------------------------------------------------------------------- bad input


BAD_FILES = {
    "table.csv": (b"a,b\n1,2\n", UnsupportedFileType),
    "noextension": (b"Some text here.", UnsupportedFileType),
    "empty.txt": (b"", EmptyDocument),
    "blank.md": (b"  \n\n \t\n", EmptyDocument),
    "huge.txt": (b"Enormous words. " * 600, FileTooLarge),  # 9,600 bytes over the 4,096 limit
    "binary.txt": (bytes(range(256)) * 8, UndecodableText),
    "broken.pdf": (b"%PDF-1.4\n1 0 obj <</Type /Catalog>> garbage without end", CorruptFile),
    "fake.docx": (b"this is not a zip file at all", CorruptFile),
}


@pytest.mark.parametrize("name", BAD_FILES)
async def test_bad_file_raises_its_error_naming_the_file(kb, tmp_path, name):
    data, error = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(error) as e:
        await kb.add_file(path)
    assert str(e.value).startswith(name)
    assert table_counts(kb)["documents"] == 0


@pytest.mark.parametrize("name", BAD_FILES)
async def test_bad_upload_raises_its_error_naming_the_file(kb, name):
    data, error = BAD_FILES[name]
    with pytest.raises(error) as e:
        await kb.add_bytes(data, name)
    assert str(e.value).startswith(name)


async def test_missing_file_raises_a_knowledge_error(kb, tmp_path):
    with pytest.raises(KnowledgeError) as e:
        await kb.add_file(tmp_path / "gone.txt")
    assert "gone.txt" in str(e.value)
    assert str(tmp_path) not in str(e.value)  # user-safe: no paths outside the file's own name


async def test_empty_pasted_text_is_refused(kb):
    with pytest.raises(EmptyDocument):
        await kb.add_text("   \n ")


async def test_batch_with_bad_files_indexes_the_good_ones_and_reports_each_bad_one(kb, folder):
    for name, (data, _) in BAD_FILES.items():
        (folder / name).write_bytes(data)
    report = await kb.index_paths([folder])
    assert sorted(Path(d.origin).name for d in report.added) == sorted(FILES)
    assert len(report.errors) == len(BAD_FILES)
    for name, (_, error) in BAD_FILES.items():
        assert any(isinstance(e, error) and str(e).startswith(name) for e in report.errors), name
    counts = table_counts(kb)
    assert counts["documents"] == len(FILES)
    assert counts["passages"] == counts["vectors"] == counts["lexical"] == await searchable_passages(kb)
    assert orphans(kb) == 0


async def test_add_texts_reports_failures_and_keeps_the_rest(kb):
    report = await kb.add_texts([TextItem(""), TextItem("Dam opens\n\nThe new dam opened."), TextItem("x" * 5000)])
    assert len(report.added) == 1
    assert sorted(type(e).__name__ for e in report.errors) == ["EmptyDocument", "FileTooLarge"]


# ---------------------------------------------------------------------------------------------- scopes


@pytest_asyncio.fixture(loop_scope="function")
async def guilds(kb):
    docs = {
        "global": await kb.add_text("Comet seen\n\nA comet was seen over the observatory."),
        "guild1": await kb.add_text("Comet photographed\n\nMembers photographed the comet.", guild_id=1),
        "guild2": await kb.add_text("Comet party\n\nA comet watching party for members.", guild_id=2),
    }
    return docs


@pytest.mark.parametrize(
    "scope, visible",
    [
        (None, {"Comet seen", "Comet photographed", "Comet party"}),
        (GLOBAL_SCOPE, {"Comet seen"}),
        (1, {"Comet seen", "Comet photographed"}),
        (2, {"Comet seen", "Comet party"}),
    ],
)
async def test_search_sees_only_its_scope(kb, guilds, scope, visible):
    assert set(await _titles(kb, "comet", scope=scope)) == visible


async def test_guild_document_is_not_found_from_another_guild(kb, guilds):
    doc = guilds["guild1"]
    with pytest.raises(DocumentNotFound):
        await kb.get_document(doc.id, scope=2)
    with pytest.raises(DocumentNotFound):
        await kb.get_document(doc.id, scope=GLOBAL_SCOPE)
    assert (await kb.get_document(doc.id, scope=1)).id == doc.id
    assert (await kb.get_document(doc.id)).id == doc.id


async def test_listing_by_scope(kb, guilds):
    assert {d.title for d in await kb.list_documents(scope=2)} == {"Comet seen", "Comet party"}


async def test_removing_another_guilds_document_is_refused(kb, guilds):
    doc = guilds["guild1"]
    with pytest.raises(DocumentNotFound):
        await kb.remove_document(doc.id, guild_id=2)
    assert "Comet photographed" in await _titles(kb, "comet")


async def test_a_guild_cannot_remove_a_global_document(kb, guilds):
    with pytest.raises(DocumentNotFound):
        await kb.remove_document(guilds["global"].id, guild_id=1)
    assert await kb.count_documents() == 3


async def test_removing_own_document_drops_it_from_search(kb, guilds):
    removed = await kb.remove_document(guilds["guild1"].id, guild_id=1)
    assert removed.title == "Comet photographed"
    assert "Comet photographed" not in await _titles(kb, "comet")
    assert await searchable_passages(kb) == await kb.store.count_passages()


async def test_removing_a_missing_document_raises(kb):
    with pytest.raises(DocumentNotFound):
        await kb.remove_document(999)


# ---------------------------------------------------------------------------------------------- dates


@pytest_asyncio.fixture(loop_scope="function")
async def dated(kb):
    for title, published in (
        ("Flood 2020", dt.date(2020, 3, 1)),
        ("Flood 2022", dt.date(2022, 7, 15)),
        ("Flood undated", None),
    ):
        await kb.add_text(f"The river flood covered the valley. {title}.", title=title, published=published)


async def test_search_without_dates_sees_every_document(kb, dated):
    assert set(await _titles(kb, "river flood")) == {"Flood 2020", "Flood 2022", "Flood undated"}


async def test_search_from_a_date(kb, dated):
    assert set(await _titles(kb, "river flood", date_from=dt.date(2021, 1, 1))) == {"Flood 2022"}


async def test_search_up_to_a_date(kb, dated):
    assert set(await _titles(kb, "river flood", date_to=dt.date(2021, 1, 1))) == {"Flood 2020"}


async def test_search_in_a_date_range_is_inclusive(kb, dated):
    found = await _titles(kb, "river flood", date_from=dt.date(2020, 3, 1), date_to=dt.date(2022, 7, 15))
    assert set(found) == {"Flood 2020", "Flood 2022"}


async def test_search_in_an_empty_date_range_finds_nothing(kb, dated):
    assert await _titles(kb, "river flood", date_from=dt.date(2023, 1, 1), date_to=dt.date(2023, 12, 31)) == []


# ---------------------------------------------------------------------------------------------- real model


NEWS = {
    "rates.txt": "Reserve Bank lifts cash rate to fight inflation\n\nThe Reserve Bank of Australia raised its cash "
    "rate by 50 basis points on Tuesday, the steepest increase in two decades, as consumer prices "
    "climbed at the fastest pace since 2001.\n\nGovernor Philip Lowe said further increases would be "
    "needed to bring inflation back to target. Mortgage holders face higher monthly repayments.",
    "wildfire.txt": "Wildfire forces thousands to evacuate in Sonoma County\n\nA wildfire driven by strong winds "
    "burned through 20,000 acres of forest in Sonoma County, California, forcing 5,000 residents "
    "to evacuate.\n\nFirefighters said the blaze was 10 percent contained by Sunday evening, and "
    "officials opened shelters at local schools.",
    "cup.txt": "Haaland's late goal wins the FA Cup for Manchester City\n\nErling Haaland scored in the 89th minute "
    "as Manchester City beat Liverpool 2-1 in the FA Cup final at Wembley on Saturday.\n\nThe Norwegian "
    "striker's header settled a tense match after Mohamed Salah had equalised early in the second half.",
    "malaria.txt": "EU regulators approve malaria vaccine for infants\n\nThe European Medicines Agency recommended "
    "approval of a malaria vaccine for infants on Thursday after trials in Ghana and Kenya showed it "
    "cut severe cases by more than half.\n\nHealth officials said the first doses could reach "
    "clinics next year.",
}
SEED = "scmp-2022-kazakhstan-intervention-benefits-china-and-russia.txt"

PARAPHRASED = [  # no word (after stemming) in common with the document they should find
    ("Why will home loan payments go up?", "rates.txt"),
    ("Where did flames drive families out of their houses?", "wildfire.txt"),
    ("Which footballer decided the championship game near the end?", "cup.txt"),
    ("jab to protect babies from a mosquito-borne disease", "malaria.txt"),
    ("Which nation's soldiers flew in to stop riots on the oil-rich steppe?", SEED),
]
KEYWORD = [("Sonoma County wildfire acres", "wildfire.txt"), ("CSTO Tokayev peacekeeping", SEED)]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def news_kb(real_embedder, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("news")
    (tmp / "docs").mkdir()
    for name, text in NEWS.items():
        (tmp / "docs" / name).write_text(text, encoding="utf-8")
    kb = await KnowledgeBase.open(KnowledgeConfig(db=tmp / "kb.db"), embedder=real_embedder)
    report = await kb.index_paths([tmp / "docs", *sorted((ROOT / "seeds").glob("*.txt"))])
    assert not report.errors and len(report.added) == len(NEWS) + len(list((ROOT / "seeds").glob("*.txt")))
    yield kb
    await kb.close()


async def _bm25_documents(kb: KnowledgeBase, question: str) -> set[str]:
    match = fts_match_expression(question)
    found = await sqlite_store(kb.store).fts_search(match, limit=1000) if match else []
    rows = await kb.store.passages_with_documents([pid for pid, _ in found])
    return {Path(doc.origin).name for _, doc in rows.values()}


@pytest.mark.model
@pytest.mark.asyncio(loop_scope="module")  # the loop the module-scoped knowledge base lives in
@pytest.mark.parametrize("question, expected", PARAPHRASED)
async def test_paraphrased_question_ranks_the_right_document_first(news_kb, question, expected):
    assert expected not in await _bm25_documents(news_kb, question)  # only the model can find it
    hits = await news_kb.search(question, k=5)
    assert Path(hits[0].document.origin).name == expected


@pytest.mark.model
@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("question, expected", KEYWORD)
async def test_keyword_question_ranks_the_right_document_first(news_kb, question, expected):
    hits = await news_kb.search(question, k=5)
    assert Path(hits[0].document.origin).name == expected
    assert hits[0].bm25_rank is not None and hits[0].dense_rank is not None
