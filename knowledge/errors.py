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


class IndexingError(KnowledgeError):
    """Several files failed in one batch; ``errors`` holds each file's own error."""

    def __init__(self, errors: list[KnowledgeError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors
