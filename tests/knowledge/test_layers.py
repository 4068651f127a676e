"""The layers of newsdesk, and a guard that keeps them: no module imports from a layer above its own,
whether at the top of the file, inside a function or under ``TYPE_CHECKING``. The two storage
engines are siblings that never import each other, and only the storage package names them.

Adding a module: give it a layer below (the test fails for a module no layer names)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. A module belongs to the layer of the longest name (or package prefix) that names it.
LAYERS: list[tuple[str, set[str]]] = [
    # Plain data, settings and words: what every other layer speaks.
    (
        "core",
        {
            "knowledge.errors",
            "knowledge.scope",
            "knowledge.clock",
            "knowledge.models",
            "knowledge.text",
            "knowledge.dates",
            "knowledge.config",
            "knowledge.timezones",
        },
    ),
    # Pure work on documents and questions, no storage: reading files, chunking, embedding, the
    # answer signals, summaries, plain-text rendering.
    (
        "reading",
        {
            "knowledge.embed",
            "knowledge.ingest",
            "knowledge.chunking",
            "knowledge.prepare",
            "knowledge.files",
            "knowledge.termweights",
            "knowledge.signals",
            "knowledge.measures",
            "knowledge.sentences",
            "knowledge.revisions",
            "knowledge.answerability",
            "knowledge.summarize",
            "knowledge.replies",
            "knowledge.plain",
            "knowledge.workers",
        },
    ),
    # The storage seam: the interface, the lexical spec and the SQL both engines share.
    ("storage", {"knowledge.backends.interface", "knowledge.backends.lexical", "knowledge.backends.sql"}),
    # The engines, siblings (see ENGINES below).
    ("engines", {"knowledge.backends.sqlite", "knowledge.backends.postgres"}),
    # The registry: the one place that reads the database setting and picks an engine.
    ("registry", {"knowledge.backends"}),
    # Search, answers and briefings: they read a Corpus (store, search index, embedder).
    (
        "search",
        {
            "knowledge.corpus",
            "knowledge.retrieval",
            "knowledge.question",
            "knowledge.conversation",
            "knowledge.about_documents",
            "knowledge.answer",
            "knowledge.briefing",
        },
    ),
    # Features over narrow collaborators: the indexing pipeline, feeds, server setup.
    ("features", {"knowledge.indexing", "knowledge.feeds", "knowledge.servers"}),
    # The one service the CLI and the bot share.
    ("service", {"knowledge.service", "knowledge"}),
    # What people run: the command line and the evaluations.
    ("entry", {"knowledge.cli", "knowledge.cli_feeds", "knowledge.evaluation"}),
    # The Discord layer: pure parts, then the interaction plumbing, the bot, its cogs, its start.
    ("bot parts", {"bot.links", "bot.render", "bot.schedule", "bot.settings"}),
    ("bot plumbing", {"bot.checks", "bot.tree", "bot.views"}),
    ("bot", {"bot.app", "bot.console"}),
    ("cogs", {"bot.cogs"}),
    ("bot start", {"bot.__main__", "bot"}),
]

# Sibling engines: a module of one never imports the other.
ENGINES = ("knowledge.backends.sqlite", "knowledge.backends.postgres")


@dataclass(frozen=True)
class Import:
    module: str  # absolute name imported from (``from X import y`` gives X, and X.y when y is a module)
    names: tuple[str, ...]
    line: int
    type_checking: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(path: Path) -> list[str]:
    name = _module_name(path).split(".")
    return name if path.name == "__init__.py" else name[:-1]


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def imports(path: Path, package: list[str] | None = None) -> list[Import]:
    """Every import of the file, anywhere in it, as absolute module names (relative ones resolved
    from ``package``, by default the file's own)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    guarded = _type_checking_lines(tree)
    package = _package(path) if package is None else package
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append(Import(alias.name, (), node.lineno, node.lineno in guarded))
        elif isinstance(node, ast.ImportFrom):
            names = tuple(a.name for a in node.names)
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # ``from . import x``: x may be a module of that package, imported for itself
            modules = [n for n in names if _exists(f"{base}.{n}")]
            out.extend(Import(f"{base}.{n}", (), node.lineno, node.lineno in guarded) for n in modules)
            others = tuple(n for n in names if n not in modules)
            if others or not modules:
                out.append(Import(base, others, node.lineno, node.lineno in guarded))
    return out


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (length of the matching name, layer)
    for number, (_, names) in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                if best is None or len(name) > best[0]:
                    best = (len(name), number)
    return None if best is None else best[1]


def _ours(module: str) -> bool:
    return module.split(".")[0] in ("knowledge", "bot") and _exists(module)


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _exempt(module: str, imp: Import) -> bool:
    """The bot's plumbing annotates with its own ``NewsdeskBot`` (a type, never used at run time)."""
    return module.startswith("bot.") and imp.type_checking and imp.module == "bot.app" and imp.names == ("NewsdeskBot",)


SOURCES = sorted([*(ROOT / "knowledge").rglob("*.py"), *(ROOT / "bot").rglob("*.py")])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_has_a_layer(path: Path) -> None:
    assert layer_of(_module_name(path)) is not None, f"{_module_name(path)}: add it to a layer in LAYERS"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_from_a_higher_layer(path: Path) -> None:
    module = _module_name(path)
    own = layer_of(module)
    assert own is not None
    upward = [
        f"line {imp.line}: {imp.module} ({LAYERS[theirs][0]}, above {LAYERS[own][0]})"
        for imp in imports(path)
        if _ours(imp.module) and (theirs := layer_of(imp.module)) is not None and theirs > own
        if not _exempt(module, imp)
    ]
    assert not upward, f"{module} imports from a higher layer:\n" + "\n".join(upward)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_engines_never_import_each_other(path: Path) -> None:
    module = _module_name(path)
    mine = next((e for e in ENGINES if module == e or module.startswith(e + ".")), None)
    if mine is None:
        return
    others = [e for e in ENGINES if e != mine]
    crossing = [imp for imp in imports(path) if any(imp.module == o or imp.module.startswith(o + ".") for o in others)]
    assert not crossing, f"{module} imports another engine: {crossing}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_storage_package_names_an_engine(path: Path) -> None:
    """The engine is chosen in one place (``backends.open_backend``): nothing else imports one."""
    module = _module_name(path)
    if module.startswith("knowledge.backends"):
        return
    named = [imp for imp in imports(path) if any(imp.module == e or imp.module.startswith(e + ".") for e in ENGINES)]
    assert not named, f"{module} imports an engine: {named}"


def test_the_guard_sees_type_checking_and_function_imports(tmp_path: Path) -> None:
    """The guard itself: an import under TYPE_CHECKING and one inside a function are both found,
    and a module of the search layer importing the service is caught."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from .service import KnowledgeBase\n"
        "def f():\n"
        "    from .backends import sqlite\n"
    )
    found = {(i.module, i.type_checking) for i in imports(probe, ["knowledge"])}
    assert ("knowledge.service", True) in found
    assert ("knowledge.backends.sqlite", False) in found
    search, service = layer_of("knowledge.retrieval"), layer_of("knowledge.service")
    assert search is not None and service is not None and service > search


def test_no_two_modules_import_each_other() -> None:
    """No import circle, within a layer either (service <-> servers <-> feeds was one)."""
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        module = _module_name(path)
        graph[module] = {
            imp.module
            for imp in imports(path)
            if _ours(imp.module) and imp.module != module and not _exempt(module, imp)
        }
    circles = []
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        for other in sorted(graph.get(module, ())):
            if state.get(other) == 1:
                circles.append(path[path.index(other) :] + [other])
            elif other not in state:
                walk(other, [*path, other])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


@pytest.mark.parametrize(
    "path",
    sorted([*(ROOT / "knowledge").rglob("*.py"), *(ROOT / "bot").rglob("*.py"), *(ROOT / "bench").glob("*.py")]),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_module_is_over_500_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 500
