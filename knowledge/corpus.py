"""What search, answers and briefings read, and nothing more: the stored documents, the search
index over their passages and the embedder for questions. ``KnowledgeBase`` is one (it has all
three); ``retrieval``, ``answer`` and ``briefing`` take this instead of the whole service, so they
never reach into its other parts and work the same on either backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .backends.interface import DocumentStore, SearchIndex
    from .embed import Embedder


class Corpus(Protocol):
    @property
    def store(self) -> DocumentStore: ...

    @property
    def index(self) -> SearchIndex: ...

    @property
    def embedder(self) -> Embedder: ...
