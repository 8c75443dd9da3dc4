-- A fetch-log row written by a WebSub push (1) rather than a poll (0): `/metrics` counts them apart.
ALTER TABLE fetch_log ADD COLUMN push INTEGER NOT NULL DEFAULT 0;
