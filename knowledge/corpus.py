"""What search, answers and briefings read, and nothing more: the stored documents, the search
index over their passages and the embedder for questions. ``KnowledgeBase`` is one (it has all
three); ``retrieval``, ``answer`` and ``briefing`` take this instead of the whole service, so they
never reach into its other parts and work the same on either backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .backends.postgres.search import PgIndex
    from .backends.sql.documents import Store
    from .backends.sqlite.index import HybridIndex
    from .embed import Embedder


class Corpus(Protocol):
    @property
    def store(self) -> Store: ...

    @property
    def index(self) -> HybridIndex | PgIndex: ...

    @property
    def embedder(self) -> Embedder: ...
