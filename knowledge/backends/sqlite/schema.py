"""The schema, as an append-only list of migrations: the database's ``PRAGMA user_version`` counts
those applied, and ``db`` applies the rest, each in one transaction. Never edit an applied
migration; add a new one at the end."""

MIGRATIONS: list[str] = [
    # 1: documents, passages, vectors, full-text index
    """
    -- AUTOINCREMENT: ids are never reused, so "#7" and the passage ids kept in the interaction log
    -- never come to mean another text after a removal.
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        source TEXT,
        published TEXT,                 -- ISO date, NULL when unknown
        published_precision TEXT NOT NULL DEFAULT 'day',  -- day, month or year
        author TEXT,
        guild_id INTEGER,               -- NULL: global (seeds, CLI)
        origin TEXT NOT NULL,           -- file name, URL or "pasted text"
        content_hash TEXT NOT NULL,     -- of the raw input bytes
        text TEXT NOT NULL,             -- clean text; paragraphs joined by a blank line
        words INTEGER NOT NULL,
        added_at TEXT NOT NULL          -- UTC ISO timestamp
    );
    CREATE UNIQUE INDEX documents_hash_scope ON documents(content_hash, IFNULL(guild_id, 0));
    CREATE INDEX documents_origin ON documents(origin, IFNULL(guild_id, 0));
    CREATE INDEX documents_added ON documents(added_at);
    CREATE INDEX documents_published ON documents(published);

    CREATE TABLE passages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        paragraph_index INTEGER NOT NULL,
        char_start INTEGER NOT NULL,
        char_end INTEGER NOT NULL,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL         -- of title + text: what was embedded
    );
    CREATE INDEX passages_document ON passages(document_id);
    CREATE INDEX passages_hash ON passages(text_hash);

    -- One row per passage and model: vectors of two models are never mixed.
    CREATE TABLE vectors (
        passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,           -- float32, little endian, L2-normalised
        PRIMARY KEY (passage_id, model)
    );

    CREATE VIRTUAL TABLE passages_fts USING fts5(
        text, title, tokenize = 'porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER passages_delete_fts AFTER DELETE ON passages BEGIN
        DELETE FROM passages_fts WHERE rowid = old.id;
    END;
    """,
    # 2: interaction log and briefing posts
    """
    CREATE TABLE interactions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,               -- UTC ISO timestamp
        guild_id INTEGER,
        channel_id INTEGER,
        user_id INTEGER,
        kind TEXT NOT NULL,             -- ask, mention, followup, brief, doc_add, doc_remove, feedback, ...
        input TEXT,
        outcome TEXT,                   -- answered, abstained, denied, error, up, down, ...
        answer TEXT,
        passage_ids TEXT,               -- JSON list of cited passage ids
        scores TEXT,                    -- JSON list of their scores
        latency_ms REAL,
        ref_id INTEGER                  -- e.g. the interaction a feedback row is about
    );
    CREATE INDEX interactions_at ON interactions(at);
    CREATE INDEX interactions_kind ON interactions(kind, at);

    CREATE TABLE briefing_posts (
        id INTEGER PRIMARY KEY,
        guild_id INTEGER,
        channel_id INTEGER NOT NULL,
        day TEXT NOT NULL,              -- local date of the scheduled briefing
        posted_at TEXT NOT NULL,
        message_id INTEGER,
        UNIQUE (channel_id, day)
    );
    """,
    # 3: per-term document counts of the full-text index (for inspecting IDF from SQL; search and
    # answers take document frequencies from the in-memory postings)
    """
    CREATE VIRTUAL TABLE passages_vocab USING fts5vocab(passages_fts, 'row');
    """,
    # 4: per-server settings made from Discord (/setup), ask channels, news feeds and the feed
    # entries already seen. Portable SQL: the PostgreSQL backend reuses these statements.
    """
    CREATE TABLE guild_settings (
        guild_id INTEGER PRIMARY KEY,
        briefing_channel_id INTEGER,    -- NULL: never configured here (the .env default applies)
        briefing_time TEXT,             -- HH:MM, local to briefing_tz
        briefing_tz TEXT,               -- IANA name
        briefing_enabled BOOLEAN NOT NULL DEFAULT FALSE,
        moderator_role_id INTEGER,      -- NULL: MODERATOR_ROLE from the settings
        updated_at TEXT NOT NULL
    );

    CREATE TABLE ask_channels (
        channel_id INTEGER PRIMARY KEY,
        guild_id INTEGER NOT NULL,
        added_at TEXT NOT NULL
    );
    CREATE INDEX ask_channels_guild ON ask_channels(guild_id);

    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id INTEGER,               -- NULL: global (CLI); entries are indexed into this scope
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        added_at TEXT NOT NULL,
        etag TEXT,                      -- validators of the last 200 answer, for conditional GETs
        last_modified TEXT,
        last_success_at TEXT,
        last_error TEXT,
        last_error_at TEXT,
        failures INTEGER NOT NULL DEFAULT 0,   -- consecutive; drives the backoff
        next_poll_at TEXT               -- NULL: due now
    );
    CREATE UNIQUE INDEX feeds_url_scope ON feeds(url, COALESCE(guild_id, 0));

    CREATE TABLE feed_entries (
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        entry_key TEXT NOT NULL,        -- the entry's GUID, else its link
        content_hash TEXT NOT NULL,     -- of title + content: a re-posted entry with a new GUID is seen
        document_id INTEGER,            -- NULL when the entry was not indexed (empty, duplicate)
        seen_at TEXT NOT NULL,
        PRIMARY KEY (feed_id, entry_key)
    );
    CREATE INDEX feed_entries_hash ON feed_entries(content_hash);
    """,
    # 5: facts about the database itself. ``database_id`` is random, written once here and never
    # changed: the index cache beside the file records it, so a cache copied from another database
    # (even one with the same counts and ids) is never taken for this one's (``index_cache``).
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO meta (key, value) VALUES ('database_id', lower(hex(randomblob(16))));
    """,
    # 6: files a moderator removed, with the content they had: start-up seeding does not bring
    # them back (the sample article came back on every start), unless the file has changed since.
    """
    CREATE TABLE removed_files (
        origin TEXT NOT NULL,
        scope INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        removed_at TEXT NOT NULL,
        PRIMARY KEY (origin, scope)
    );
    """,
]
