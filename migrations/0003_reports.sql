-- Reports and the HTTP API (issue 6). An article's time is coalesce(published_at, fetched_at):
-- this covering index serves the report's window scans (counts by day, feed, language, top
-- stories by sources) and the API's newest-first listings without touching the table.
CREATE INDEX articles_time ON articles(coalesce(published_at, fetched_at), feed_id, lang, sources);
-- Newest matches first (dashboard, API, Atom) without sorting all of them.
CREATE INDEX matches_time ON matches(matched_at);
