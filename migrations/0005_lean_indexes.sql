-- Two indexes no query uses: every time filter and ordering goes through
-- coalesce(published_at, fetched_at) (articles_time, migration 0003), and the near-duplicate probe
-- uses the band indexes (band, fetched_at). Each was one more B-tree insert per stored article.
DROP INDEX IF EXISTS articles_fetched;
DROP INDEX IF EXISTS articles_published;
