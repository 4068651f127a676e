"""Domain errors. Every message is safe to show a user as it is (no paths outside the
file's own name, no tracebacks); the CLI and the bot only render them."""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base class: ``str(error)`` is a short, user-safe explanation."""


class UnsupportedFileType(KnowledgeError):
    pass


class EmptyDocument(KnowledgeError):
    pass


class FileTooLarge(KnowledgeError):
    pass


class FileTooComplex(KnowledgeError):
    """A file within the size limit that would take too long to read: more pages than allowed, or
    a parse stopped at its time limit."""


class UndecodableText(KnowledgeError):
    pass


class CorruptFile(KnowledgeError):
    pass


class DuplicateDocument(KnowledgeError):
    def __init__(self, message: str, existing_id: int | None = None) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class DocumentNotFound(KnowledgeError):
    pass


class FetchError(KnowledgeError):
    """A URL could not be fetched (network error, bad status, wrong content type)."""


class DatabaseError(KnowledgeError):
    """The database cannot be opened, read or written: damaged, full, locked by another process,
    read-only, or of a newer schema than this code knows."""


class InvalidInput(KnowledgeError, ValueError):
    """A value typed by a user (a time window, an id) that cannot be used; a ValueError too, so
    callers that validate with ``except ValueError`` keep working."""


class SettingsError(KnowledgeError, ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


class NotAFeed(KnowledgeError):
    """A URL that answers, but not with an RSS or Atom feed."""
