"""newsdesk's knowledge library: indexing, retrieval, answers, briefings and storage.

It never imports discord: the same service runs the CLI, the tests and the bot."""

from .config import KnowledgeConfig
from .errors import KnowledgeError
from .models import Answer, Briefing, Citation, Document, IndexReport, Passage, SearchHit, Story
from .scope import GLOBAL_SCOPE, Scope, scope_of
from .service import KnowledgeBase

__all__ = [
    "Answer",
    "Briefing",
    "Citation",
    "Document",
    "GLOBAL_SCOPE",
    "IndexReport",
    "KnowledgeBase",
    "KnowledgeConfig",
    "KnowledgeError",
    "Passage",
    "Scope",
    "SearchHit",
    "Story",
    "scope_of",
]
