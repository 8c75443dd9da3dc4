-- PostgreSQL only. Every sighting raises its article's `sources`; with `sources` in an index, each
-- of those updates was a non-HOT one, writing a new entry into every index of the table (the GIN
-- full-text index included). `articles_time` keeps its keys; reports read `sources` from the row.
-- Free room in each page (fillfactor) lets the updated row version stay on its page.
DROP INDEX IF EXISTS articles_time;
CREATE INDEX articles_time ON articles((coalesce(published_at, fetched_at)), feed_id, lang);
ALTER TABLE articles SET (fillfactor = 90);
