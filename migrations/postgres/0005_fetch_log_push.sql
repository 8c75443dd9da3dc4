-- SQLite's 0010: a fetch-log row written by a WebSub push (1) rather than a poll (0).
ALTER TABLE fetch_log ADD COLUMN push BIGINT NOT NULL DEFAULT 0;
