"""``newsdesk feed add|list|poll|remove`` against a feed served on loopback (a thread: the CLI runs
its own event loop)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from knowledge import cli
from knowledge.embed import HashingEmbedder
from knowledge.service import KnowledgeBase

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour News</title>
<item><title>Ferry line reopens</title><guid>g1</guid><pubDate>Tue, 03 Mar 2026 09:00:00 GMT</pubDate>
<description>The island ferry line reopened on Tuesday after the new harbour pier was finished by the port
authority, and ferries will sail every forty minutes in summer.</description></item></channel></rss>"""


class _Feed(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(RSS)))
        self.end_headers()
        self.wfile.write(RSS)

    def log_message(self, *args) -> None:  # keep the test output quiet
        return


@pytest.fixture
def feed_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/rss"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("NEWSDESK_DB", "NEWSDESK_MODEL", "NEWSDESK_MAX_FILE_MB"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NEWSDESK_FETCH_ALLOW", "127.0.0.1")
    monkeypatch.chdir(tmp_path)

    async def open_fast(config):
        return await KnowledgeBase.open(config, embedder=HashingEmbedder())

    monkeypatch.setattr(cli, "_open", open_fast)
    return tmp_path / "cli.db"


def run(capsys, db: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["--db", str(db), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_feed_add_list_poll_remove(capsys, db, feed_url):
    code, out, _ = run(capsys, db, "feed", "add", feed_url)
    assert code == 0 and "following #1 Harbour News" in out
    code, out, _ = run(capsys, db, "feed", "list")
    assert "#1 Harbour News (global)" in out and "last success: never" in out
    code, out, _ = run(capsys, db, "feed", "poll")
    assert code == 0 and "#1 Harbour News: 1 added, 0 already seen" in out
    code, out, _ = run(capsys, db, "docs", "list")
    assert "Ferry line reopens" in out
    code, out, _ = run(capsys, db, "feed", "remove", "1")
    assert code == 0 and "stopped following #1" in out
    code, out, _ = run(capsys, db, "feed", "list")
    assert "No feeds" in out


def test_feed_add_goes_through_the_address_checks_of_doc_add_url(capsys, db, feed_url, monkeypatch):
    monkeypatch.delenv("NEWSDESK_FETCH_ALLOW")
    code, _, err = run(capsys, db, "feed", "add", feed_url)
    assert code == 1 and "local or private network addresses are not allowed" in err
    assert "NEWSDESK_FETCH_ALLOW" in err  # how to opt the host in
    code, out, _ = run(capsys, db, "feed", "list")
    assert "No feeds" in out
