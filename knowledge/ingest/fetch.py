"""Fetching a web page or file over HTTP(S) for ``/doc add url``, and news feeds, through one vetted GET."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

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
T = TypeVar("T")


async def fetch_url(url: str, *, max_bytes: int, timeout_s: float, allow: Iterable[str] = ()) -> tuple[bytes, str]:
    """Download a URL (http/https only) with a size limit; returns (bytes, a file name whose suffix
    tells ``parse_bytes`` the type: .html, .pdf, .txt ...). Raises FetchError with a short reason.

    Loopback, private, link-local, multicast, reserved and unspecified addresses are refused (a
    member must not make the bot read its own network, the cloud metadata service or the admin's
    router), before connecting and again after every redirect, unless ``allow`` (host names, IP
    addresses or networks, ``NEWSDESK_FETCH_ALLOW``) names them. Names are resolved once and only a
    vetted address is connected to, so a second DNS answer can't point the connection elsewhere."""
    shown = short_url(url)

    async def read(resp) -> tuple[bytes, str, str]:
        data, suffix = await _read_body(resp, shown, max_bytes)
        return data, suffix, resp.url.path

    data, suffix, final_path = await _get(url, timeout_s=timeout_s, allow=allow, headers=_PAGE_HEADERS, read=read)
    return data, _filename_for(urlsplit(url.strip()).hostname, final_path, suffix)


@dataclass(frozen=True)
class FeedResponse:
    """A feed's answer: 304 (not modified since the validators sent) carries no data."""

    status: int
    data: bytes
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


async def fetch_feed(
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    allow: Iterable[str] = (),
    etag: str | None = None,
    last_modified: str | None = None,
) -> FeedResponse:
    """Download an RSS or Atom feed with the same address checks and size limit as ``fetch_url``,
    as a conditional GET when validators from the last answer are given. The body is not checked
    for its type: feeds are served under a dozen content types and ``feedparser`` judges them."""
    shown = short_url(url)
    headers = {**_PAGE_HEADERS, "Accept": _FEED_ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified

    async def read(resp) -> FeedResponse:
        validators = {"etag": resp.headers.get("ETag"), "last_modified": resp.headers.get("Last-Modified")}
        if resp.status == 304:
            return FeedResponse(304, b"", **validators)
        if resp.status >= 400:
            raise FetchError(f"{shown}: the server answered {resp.status} {resp.reason or ''}".rstrip())
        return FeedResponse(resp.status, await _read_limited(resp, shown, max_bytes), **validators)

    return await _get(url, timeout_s=timeout_s, allow=allow, headers=headers, read=read)


# Some news sites refuse requests without a browser-like Accept header.
_PAGE_HEADERS = {
    "User-Agent": "newsdesk/0.1 (self-hosted news bot)",
    "Accept": "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9,*/*;q=0.5",
}
_FEED_ACCEPT = "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5"


async def _get(
    url: str, *, timeout_s: float, allow: Iterable[str], headers: dict[str, str], read: Callable[[Any], Awaitable[T]]
) -> T:
    """GET ``url`` following redirects by hand, each hop vetted, and hand the final answer to
    ``read``; every failure is a FetchError (or the size and type errors ``read`` raises)."""
    import aiohttp  # lazy: ~0.2 s to import, and only fetching a URL needs it

    policy = AddressPolicy.parse(allow)
    shown = short_url(url)
    current = url.strip()
    _check_url(current, policy, shown)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    # No DNS cache: each lookup is vetted; trust_env off: a proxy from the environment would connect
    # on our behalf to whatever the name resolves to there.
    resolver = _VettingResolver(policy)
    # _VettingResolver implements AbstractResolver's methods but cannot subclass it: aiohttp is imported
    # lazily, so the class is defined without it.
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)  # pyright: ignore[reportArgumentType]
    try:
        async with (
            asyncio.timeout(timeout_s),
            aiohttp.ClientSession(timeout=timeout, headers=headers, connector=connector, trust_env=False) as session,
        ):
            for hop in range(_MAX_REDIRECTS + 1):
                # Redirects are followed here, not by aiohttp, so each target is vetted before it is
                # connected to.
                async with session.get(current, allow_redirects=False) as resp:
                    _check_peer(resp, policy, shown)
                    location = resp.headers.get("Location") if resp.status in _REDIRECTS else None
                    if location is None:
                        return await read(resp)
                if hop == _MAX_REDIRECTS:
                    raise FetchError(f"{shown}: too many redirects")
                current = urljoin(current, location)
                _check_url(current, policy, shown, redirected=True)
            raise FetchError(f"{shown}: too many redirects")
    except (FetchError, UnsupportedFileType, FileTooLarge):
        raise
    except _Refused as e:
        raise FetchError(f"{shown}: {_REFUSED}") from e
    except TimeoutError as e:
        raise FetchError(f"{shown}: no answer within {timeout_s:g} s") from e
    except (aiohttp.InvalidURL, ValueError) as e:
        raise FetchError(f"{shown}: not a valid link") from e
    except aiohttp.ClientConnectorError as e:
        raise FetchError(f"{shown}: could not connect to {urlsplit(current).hostname}") from e
    except aiohttp.ClientError as e:
        log.info("fetching %s failed: %r", shown, e)
        raise FetchError(f"{shown}: the download failed ({type(e).__name__})") from e
    finally:
        await resolver.close()  # a resolver we pass in is ours to close, not the connector's


async def _read_body(resp, shown: str, max_bytes: int) -> tuple[bytes, str]:
    if resp.status >= 400:
        raise FetchError(f"{shown}: the server answered {resp.status} {resp.reason or ''}".rstrip())
    suffix = _suffix_for(resp.content_type, resp.url.path)
    if suffix is None:
        raise UnsupportedFileType(
            f"{shown}: unsupported content type {resp.content_type}; links to web pages, PDF, Word or text files work"
        )
    return _as_utf8(await _read_limited(resp, shown, max_bytes), resp.charset, suffix), suffix


async def _read_limited(resp, shown: str, max_bytes: int) -> bytes:
    if resp.content_length is not None and resp.content_length > max_bytes:
        raise FileTooLarge(f"{shown}: the page is {mb(resp.content_length)}, over the {mb(max_bytes)} limit")
    body = bytearray()
    # Enforced while streaming: Content-Length may be missing or wrong.
    async for chunk in resp.content.iter_chunked(_FETCH_CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise FileTooLarge(f"{shown}: the page is over the {mb(max_bytes)} limit")
    return bytes(body)


def strip_credentials(url: str) -> str:
    """The URL without a ``user:password@`` part, for storing, showing and logging."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


# ---------------------------------------------------------------------------------------------- addresses

# Says how to opt in: an operator refused a localhost feed was not told the setting existed.
_OPT_IN = "(the bot's administrator can allow a host with NEWSDESK_FETCH_ALLOW)"
_REFUSED = f"links to local or private network addresses are not allowed {_OPT_IN}"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class _Refused(Exception):
    """A name resolved only to refused addresses (raised inside aiohttp's connector)."""


@dataclass(frozen=True)
class AddressPolicy:
    """Which hosts may be fetched: public addresses, plus the host names and networks of the allow list."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, allow: Iterable[str]) -> AddressPolicy:
        names, networks = set(), []
        for entry in (e.strip() for e in allow):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if "/" in entry:
                    raise ValueError(f"{entry!r} is neither a host name nor an IP network") from None
                names.add(_host_key(entry))
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return _host_key(host) in self.names

    def allows_address(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if any(ip in net for net in self.networks):
            return True
        return all(_public(a) for a in _embedded(ip))


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """The address and every IPv4 address it carries (IPv4-mapped, 6to4, NAT64, IPv4-compatible):
    ``::ffff:127.0.0.1`` reaches loopback although Python 3.11 does not call it loopback."""
    out: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            out.append(ip.ipv4_mapped)
        if ip.sixtofour:
            out.append(ip.sixtofour)
        if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
            out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return out


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _public(ip: IPAddress) -> bool:
    return ip.is_global and not (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def _check_url(url: str, policy: AddressPolicy, shown: str, *, redirected: bool = False) -> None:
    """Scheme and, for an address written in the URL, the address (aiohttp connects to a literal
    address without asking the resolver)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as e:
        raise FetchError(f"{shown}: not a valid link") from e
    if parts.scheme.lower() not in ("http", "https") or not host:
        if redirected:
            raise FetchError(f"{shown}: redirected to a link that is not http:// or https://")
        raise FetchError(f"{shown}: only http:// and https:// links can be fetched")
    if policy.allows_name(host):
        return
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return  # a name: vetted by the resolver when it is looked up
    if not policy.allows_address(host):
        raise FetchError(
            f"{shown}: {f'redirected to a local or private address {_OPT_IN}' if redirected else _REFUSED}"
        )


def _check_peer(resp, policy: AddressPolicy, shown: str) -> None:
    """The address actually connected to, vetted once more (defence in depth: whatever path led
    there, a refused address is never read from)."""
    if policy.allows_name(resp.url.host or ""):
        return
    transport = resp.connection.transport if resp.connection is not None else None
    peer = transport.get_extra_info("peername") if transport is not None else None
    if peer and not policy.allows_address(str(peer[0])):
        log.warning("refused a connection to a non-public address for %s", shown)
        raise FetchError(f"{shown}: {_REFUSED}")


class _VettingResolver:
    """aiohttp resolver that resolves a name once and returns only the addresses the policy allows;
    the connector connects to exactly those, so DNS rebinding between check and connect is moot."""

    def __init__(self, policy: AddressPolicy) -> None:
        from aiohttp.resolver import DefaultResolver  # lazy, as aiohttp in fetch_url

        self._inner = DefaultResolver()
        self._policy = policy

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list:
        results = await self._inner.resolve(host, port, family)
        if self._policy.allows_name(host):
            return results
        vetted = [r for r in results if self._policy.allows_address(r["host"])]
        if not vetted:
            raise _Refused(host)
        return vetted

    async def close(self) -> None:
        await self._inner.close()


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


def short_url(url: str, limit: int = 100) -> str:
    """The URL as shown in messages and logs: without credentials, cut to ``limit``."""
    url = strip_credentials(url)
    return url if len(url) <= limit else url[: limit - 1] + "…"
