"""Hostile links for ``/doc add url`` (``KnowledgeBase.add_url`` → ``ingest.fetch_url``): local,
private, link-local, multicast, reserved and unspecified addresses are refused before connecting and
after every redirect, names that resolve to them too, unless ``NEWSDESK_FETCH_ALLOW`` opts them in;
other schemes are refused; credentials never reach the stored origin, messages or the log.

Loopback servers only: each counts the requests it gets, so "refused" also means "never asked"."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from knowledge import ingest
from knowledge.config import KnowledgeConfig
from knowledge.errors import FetchError

PAGE = (
    "<html><head><title>Harbour reopens after the storm</title></head><body><article>"
    "<h1>Harbour reopens after the storm</h1>"
    "<p>The harbour reopened on Monday after a week of repairs to the sea wall, the port authority said.</p>"
    "<p>Ferries to the islands resume on Tuesday, and freight traffic will be back to normal by Friday.</p>"
    "</article></body></html>"
)
LOOPBACK = ("127.0.0.1",)


class Server:
    def __init__(self, url: str, hits: list[str]) -> None:
        self.url, self.hits = url, hits
        self.port = int(url.rsplit(":", 1)[1])


@pytest_asyncio.fixture(loop_scope="function")  # the loop the tests run in
async def server(loopback_server) -> AsyncIterator[Server]:
    hits: list[str] = []

    @web.middleware
    async def count(request, handler):
        hits.append(request.path)
        return await handler(request)

    async def page(request):
        return web.Response(body=PAGE.encode(), content_type="text/html", charset="utf-8")

    async def redirect(request):
        raise web.HTTPFound(request.query["to"])

    app = web.Application(middlewares=[count])

    async def loop(request):
        raise web.HTTPFound("/loop")

    app.add_routes([web.get("/page", page), web.get("/redirect", redirect), web.get("/loop", loop)])
    async with loopback_server(app) as url:
        yield Server(url, hits)


async def _fetch(url: str, allow=()) -> tuple[bytes, str]:
    return await ingest.fetch_url(url, max_bytes=100_000, timeout_s=5, allow=allow)


# ---------------------------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.8.9.10",  # loopback
        "10.1.2.3",
        "172.16.5.4",
        "192.168.1.1",  # private
        "169.254.169.254",  # link-local: the cloud metadata service
        "100.64.0.1",  # shared address space (carrier NAT)
        "224.0.0.1",  # multicast
        "240.0.0.1",
        "255.255.255.255",  # reserved, broadcast
        "0.0.0.0",  # unspecified
        "[::1]",
        "[::]",
        "[fe80::1]",
        "[fc00::1]",
        "[ff02::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[::ffff:10.0.0.1]",  # IPv4-mapped IPv6
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
        "[::127.0.0.1]",  # NAT64, 6to4, compatible
    ],
)
async def test_non_public_address_literals_are_refused_before_connecting(host):
    with pytest.raises(FetchError, match="not allowed") as info:
        await _fetch(f"http://{host}:8080/latest/meta-data/")
    message = str(info.value)
    assert "\n" not in message and len(message) < 200


async def test_loopback_server_is_refused_without_the_allow_list_and_never_asked(server):
    with pytest.raises(FetchError, match="not allowed"):
        await _fetch(server.url + "/page")
    assert server.hits == []


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "2130706433", "127.1", "0x7f.0.0.1"])
async def test_names_and_odd_forms_that_reach_loopback_are_refused(server, host):
    with pytest.raises(FetchError) as info:
        await _fetch(f"http://{host}:{server.port}/page")
    assert server.hits == []
    assert "127.0.0.1" not in str(info.value)  # the resolved address is not shown


async def test_the_resolved_address_is_what_is_checked_not_the_name(server, monkeypatch):
    """A public-looking name whose DNS answer is loopback (rebinding): refused at resolution, and
    the connector is never given the address."""
    from aiohttp import resolver

    class Rebinding:
        async def resolve(self, host, port=0, family=0):
            return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": 2, "proto": 0, "flags": 0}]

        async def close(self):
            pass

    monkeypatch.setattr(resolver, "DefaultResolver", Rebinding)
    with pytest.raises(FetchError, match="not allowed"):
        await _fetch(f"http://news.example.com:{server.port}/page")
    assert server.hits == []


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/admin",
        "http://[::1]:{port}/page",
        "http://[::ffff:127.0.0.2]:{port}/page",
        "http://0.0.0.0:{port}/page",
    ],
)
async def test_a_redirect_to_a_forbidden_address_is_refused(server, target):
    target = target.format(port=server.port)
    with pytest.raises(FetchError, match="redirected"):
        await _fetch(f"{server.url}/redirect?to={target}", allow=LOOPBACK)
    assert server.hits == ["/redirect"]  # the first hop only


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/_x"])
async def test_a_redirect_to_another_scheme_is_refused(server, target):
    with pytest.raises(FetchError, match="redirected"):
        await _fetch(f"{server.url}/redirect?to={target}", allow=LOOPBACK)


async def test_redirect_loops_stop(server):
    with pytest.raises(FetchError, match="too many redirects"):
        await _fetch(f"{server.url}/loop", allow=LOOPBACK)
    assert len(server.hits) == 6  # the first request and five redirects, then no more


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "gopher://localhost/x",
        "data:text/html,<p>hi</p>",
        "javascript:alert(1)",
        "//127.0.0.1/x",
    ],
)
async def test_other_schemes_are_refused(url):
    with pytest.raises(FetchError, match="only http"):
        await _fetch(url, allow=LOOPBACK)


# ---------------------------------------------------------------------------------------------- allow list


@pytest.mark.parametrize("allow", [("127.0.0.1",), ("127.0.0.0/8",), ("10.0.0.0/8", " 127.0.0.1/32 ")])
async def test_the_allow_list_opts_addresses_and_networks_in(server, allow):
    data, filename = await _fetch(server.url + "/page", allow=allow)
    assert b"Harbour reopens" in data and filename == "page.html"


async def test_the_allow_list_opts_a_host_name_in(server):
    data, _ = await _fetch(f"http://localhost:{server.port}/page", allow=("localhost",))
    assert b"Harbour reopens" in data


async def test_an_allowed_server_still_cannot_redirect_outside_the_allow_list(server):
    with pytest.raises(FetchError, match="redirected"):
        await _fetch(f"{server.url}/redirect?to=http://192.168.0.1/", allow=("127.0.0.0/8",))


def test_the_allow_list_comes_from_the_environment():
    config = KnowledgeConfig.from_env({"NEWSDESK_FETCH_ALLOW": "wiki.internal, 10.20.0.0/16,,127.0.0.1"})
    assert config.fetch_allow == ("wiki.internal", "10.20.0.0/16", "127.0.0.1")
    assert KnowledgeConfig.from_env({}).fetch_allow == ()


# ---------------------------------------------------------------------------------------------- the service


async def test_add_url_refuses_loopback_by_default_and_stores_nothing(kb, server):
    with pytest.raises(FetchError, match="not allowed"):
        await kb.add_url(server.url + "/page")
    assert server.hits == [] and await kb.count_documents() == 0


async def test_add_url_strips_credentials_from_the_origin_messages_and_log(kb, server, caplog):
    from dataclasses import replace

    kb.config = replace(kb.config, fetch_allow=LOOPBACK)
    secret_url = server.url.replace("http://", "http://editor:hunter2@") + "/page"
    with caplog.at_level(logging.DEBUG):
        doc = await kb.add_url(secret_url)
        with pytest.raises(FetchError) as info:
            await kb.add_url(server.url.replace("http://", "http://editor:hunter2@") + "/missing")
    assert doc.origin == server.url + "/page"
    stored = await kb.get_document(doc.id)
    assert "hunter2" not in stored.origin and "editor" not in stored.origin
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in caplog.text


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://u:p@example.org/a?b=1", "https://example.org/a?b=1"),
        ("http://user@host:8080/x", "http://host:8080/x"),
        ("http://example.org/a@b", "http://example.org/a@b"),
    ],
)
def test_strip_credentials(url, shown):
    assert ingest.strip_credentials(url) == shown
