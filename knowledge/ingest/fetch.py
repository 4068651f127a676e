"""Fetching a web page or file over HTTP(S) for ``/doc add url`` (and, later, feeds)."""

from __future__ import annotations

import logging
import re
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from ..errors import FetchError, FileTooLarge, UnsupportedFileType
from .document import SUPPORTED_SUFFIXES, mb

log = logging.getLogger(__name__)


# Content types we can parse, mapped to the suffix parse_bytes dispatches on.
_CONTENT_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "application/x-pdf": ".pdf",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
_FETCH_CHUNK = 64 * 1024
_MAX_REDIRECTS = 5


async def fetch_url(url: str, *, max_bytes: int, timeout_s: float) -> tuple[bytes, str]:
    """Download a URL (http/https only) with a size limit; returns (bytes, a file name whose suffix
    tells ``parse_bytes`` the type: .html, .pdf, .txt ...). Raises FetchError with a short reason."""
    import asyncio

    import aiohttp

    shown = _short_url(url)
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{shown}: only http:// and https:// links can be fetched")
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    # Some news sites refuse requests without a browser-like Accept header.
    headers = {"User-Agent": "newsdesk/0.1 (self-hosted news bot)",
               "Accept": "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9,*/*;q=0.5"}
    try:
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
            async with session.get(url.strip(), allow_redirects=True, max_redirects=_MAX_REDIRECTS) as resp:
                if resp.status >= 400:
                    raise FetchError(f"{shown}: the server answered {resp.status} {resp.reason or ''}".rstrip())
                final_path = resp.url.path
                suffix = _suffix_for(resp.content_type, final_path)
                if suffix is None:
                    raise UnsupportedFileType(f"{shown}: unsupported content type {resp.content_type}; "
                                              "links to web pages, PDF, Word or text files work")
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise FileTooLarge(f"{shown}: the page is {mb(resp.content_length)}, "
                                       f"over the {mb(max_bytes)} limit")
                body = bytearray()
                # Enforced while streaming: Content-Length may be missing or wrong.
                async for chunk in resp.content.iter_chunked(_FETCH_CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise FileTooLarge(f"{shown}: the page is over the {mb(max_bytes)} limit")
                data = _as_utf8(bytes(body), resp.charset, suffix)
    except (FetchError, UnsupportedFileType, FileTooLarge):
        raise
    except (asyncio.TimeoutError, TimeoutError) as e:
        raise FetchError(f"{shown}: no answer within {timeout_s:g} s") from e
    except aiohttp.TooManyRedirects as e:
        raise FetchError(f"{shown}: too many redirects") from e
    except aiohttp.InvalidURL as e:
        raise FetchError(f"{shown}: not a valid link") from e
    except aiohttp.ClientConnectorError as e:
        raise FetchError(f"{shown}: could not connect to {parts.hostname}") from e
    except aiohttp.ClientError as e:
        log.info("fetching %s failed: %r", url, e)
        raise FetchError(f"{shown}: the download failed ({type(e).__name__})") from e
    return data, _filename_for(parts.hostname, final_path, suffix)


# ---------------------------------------------------------------------------------------------- fetching


def _suffix_for(content_type: str, path: str) -> str | None:
    suffix = _CONTENT_TYPES.get((content_type or "").lower())
    if suffix:
        return suffix
    if content_type in ("application/octet-stream", "binary/octet-stream", ""):
        # servers that don't know the type: trust the link's own suffix when we can parse it
        path_suffix = PurePosixPath(unquote(path)).suffix.lower()
        return path_suffix if path_suffix in SUPPORTED_SUFFIXES else None
    return None


def _as_utf8(data: bytes, charset: str | None, suffix: str) -> bytes:
    """Plain text and markdown declared in another charset by the server: recode to UTF-8, since the
    bytes alone can't tell (HTML carries its own declaration and trafilatura reads it)."""
    if suffix not in (".txt", ".md") or not charset or charset.lower().replace("_", "-") in ("utf-8", "utf8"):
        return data
    try:
        return data.decode(charset).encode("utf-8")
    except (LookupError, UnicodeDecodeError):
        return data


def _filename_for(host: str | None, path: str, suffix: str) -> str:
    stem = PurePosixPath(unquote(path)).name
    stem = PurePosixPath(stem).stem if PurePosixPath(stem).suffix.lower() in SUPPORTED_SUFFIXES else stem
    stem = re.sub(r"[^\w.-]+", "-", stem).strip("-.")[:80] or re.sub(r"[^\w.-]+", "-", host or "page")
    return stem + suffix


def _short_url(url: str, limit: int = 100) -> str:
    url = url.strip()
    return url if len(url) <= limit else url[: limit - 1] + "…"
