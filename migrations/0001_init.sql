-- newswatch schema, version 1. Times are Unix milliseconds (UTC). Append-only: later changes go in
-- new files.

CREATE TABLE feeds (
    id              INTEGER PRIMARY KEY,
    url             TEXT NOT NULL UNIQUE,
    name            TEXT,
    title           TEXT,
    site_url        TEXT,
    lang            TEXT,
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    etag            TEXT,
    last_modified   TEXT,
    interval_ms     INTEGER,            -- current adaptive interval
    fixed_interval_ms INTEGER,          -- from config, overrides adaptation
    min_interval_ms INTEGER,            -- the feed's own TTL / Cache-Control max-age
    next_poll_at    INTEGER NOT NULL DEFAULT 0,
    last_polled_at  INTEGER,
    last_success_at INTEGER,
    last_new_at     INTEGER,
    error_count     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    full_text       INTEGER,            -- NULL: the global default
    created_at      INTEGER NOT NULL
);

CREATE TABLE articles (
    id             INTEGER PRIMARY KEY,
    feed_id        INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
    identity       TEXT NOT NULL UNIQUE,     -- g:feed:guid | l:canonical link | h:content hash
    guid           TEXT,
    link           TEXT,
    canonical_link TEXT,
    title          TEXT NOT NULL,
    text           TEXT NOT NULL,
    html           TEXT NOT NULL DEFAULT '',
    lang           TEXT,
    published_at   INTEGER,
    fetched_at     INTEGER NOT NULL,
    updated_at     INTEGER,
    content_hash   TEXT NOT NULL,
    simhash        INTEGER NOT NULL,
    band0          INTEGER NOT NULL,
    band1          INTEGER NOT NULL,
    band2          INTEGER NOT NULL,
    band3          INTEGER NOT NULL,
    sources        INTEGER NOT NULL DEFAULT 1,  -- distinct feeds that carried the story
    page_title     TEXT,                        -- full-text fetch of the article page
    page_text      TEXT,
    page_status    TEXT,                        -- NULL | pending | done | failed
    page_attempts  INTEGER NOT NULL DEFAULT 0,
    page_next_at   INTEGER,
    page_error     TEXT
);
CREATE INDEX articles_canonical ON articles(canonical_link);
CREATE INDEX articles_hash ON articles(content_hash);
CREATE INDEX articles_band0 ON articles(band0, fetched_at);
CREATE INDEX articles_band1 ON articles(band1, fetched_at);
CREATE INDEX articles_band2 ON articles(band2, fetched_at);
CREATE INDEX articles_band3 ON articles(band3, fetched_at);
CREATE INDEX articles_fetched ON articles(fetched_at);
CREATE INDEX articles_published ON articles(published_at);
CREATE INDEX articles_feed ON articles(feed_id, fetched_at);
CREATE INDEX articles_page_due ON articles(page_status, page_next_at) WHERE page_status = 'pending';

-- A story seen again: in another feed, under another link, or as a near-duplicate.
CREATE TABLE sightings (
    id         INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    feed_id    INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
    link       TEXT,
    title      TEXT,
    kind       TEXT NOT NULL,           -- exact | near
    distance   INTEGER,
    seen_at    INTEGER NOT NULL,
    UNIQUE (article_id, feed_id, link)
);
CREATE INDEX sightings_article ON sightings(article_id);

CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, text, content='articles', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text || coalesce(char(10) || new.page_text, ''));
END;
CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text || coalesce(char(10) || old.page_text, ''));
END;
CREATE TRIGGER articles_au AFTER UPDATE OF title, text, page_text ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text || coalesce(char(10) || old.page_text, ''));
    INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text || coalesce(char(10) || new.page_text, ''));
END;

CREATE TABLE topics (
    id         TEXT PRIMARY KEY,
    query      TEXT NOT NULL,
    version    TEXT NOT NULL,           -- hash of the topic's definition
    updated_at INTEGER NOT NULL
);

CREATE TABLE matches (
    id         INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    topic      TEXT NOT NULL,
    terms      TEXT NOT NULL,           -- JSON array
    snippet    TEXT NOT NULL,
    matched_at INTEGER NOT NULL,
    UNIQUE (article_id, topic)
);
CREATE INDEX matches_topic ON matches(topic, matched_at);

-- The outbox: one row per (match, sink), written in the transaction that stored the match.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    uid             TEXT NOT NULL UNIQUE,   -- stable id receivers use to drop redeliveries
    match_id        INTEGER NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
    topic           TEXT NOT NULL,
    sink            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',  -- pending | delivered | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    UNIQUE (match_id, sink)
);
CREATE INDEX alerts_due ON alerts(status, next_attempt_at);
CREATE INDEX alerts_topic ON alerts(topic, created_at);

CREATE TABLE alert_attempts (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    ok       INTEGER NOT NULL,
    error    TEXT
);
CREATE INDEX alert_attempts_alert ON alert_attempts(alert_id);

CREATE TABLE fetch_log (
    id            INTEGER PRIMARY KEY,
    feed_id       INTEGER REFERENCES feeds(id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    at            INTEGER NOT NULL,
    status        INTEGER,              -- HTTP status; NULL when no response
    bytes         INTEGER NOT NULL DEFAULT 0,
    new_items     INTEGER NOT NULL DEFAULT 0,
    updated_items INTEGER NOT NULL DEFAULT 0,
    duplicates    INTEGER NOT NULL DEFAULT 0,
    duration_ms   INTEGER NOT NULL,
    error         TEXT
);
CREATE INDEX fetch_log_feed ON fetch_log(feed_id, at);
