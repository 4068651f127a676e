"""Links back to sources: a document's origin, when it is a web address, as the target of the
masked link its title becomes in answers and briefings (``render.linked_title``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from knowledge.ingest import strip_credentials

# A source's link longer than this is not shown: it would crowd out the quote it sits above.
LINK_CHARS = 300


def link_target(origin: str | None) -> str | None:
    """A document's origin as the target of a masked link, when it is a plain http(s) URL: no
    credentials, brackets and spaces percent-encoded (they would end the link early), nothing that
    could break out of ``[title](url)``."""
    if not origin or not origin.startswith(("http://", "https://")) or len(origin) > LINK_CHARS:
        return None
    url = strip_credentials(origin)
    if any(ch.isspace() or ch in '<>"' or ord(ch) < 32 for ch in url):
        return None
    try:
        if not urlsplit(url).hostname:
            return None
    except ValueError:
        return None
    return url.replace("(", "%28").replace(")", "%29").replace("[", "%5B").replace("]", "%5D")
