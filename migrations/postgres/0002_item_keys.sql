-- newswatch PostgreSQL schema, version 2 (mirrors SQLite 0006): every item seen keeps its identity
-- key, also when it was recorded as a sighting, so a re-polled copy is recognised in one lookup and
-- never compared again. band0..3 hold MinHash keys from now on (a new fingerprint; old rows keep
-- their SimHash bands and simply stop being found as near copies once they leave the window).
ALTER TABLE sightings ADD COLUMN item TEXT UNIQUE;
ALTER TABLE sightings DROP CONSTRAINT IF EXISTS sightings_article_id_feed_id_link_key;
CREATE INDEX sightings_article_feed ON sightings(article_id, feed_id);
