-- Every item seen has a stored identity, whether it became an article or a sighting (issue 14).
-- An item's key is `g:feed:guid`, else `l:feed:canonical link`, else `h:feed:content hash`
-- (dedup::identity_key): `articles.identity` holds it for the item an article was made from,
-- `sightings.item` for an item recorded as a sighting of an article. Both are UNIQUE, and a
-- re-polled item is looked up in both by one statement and never compared again.

-- Link and hash identities become per feed, as guid identities already were.
UPDATE articles SET identity = 'l:' || feed_id || ':' || substr(identity, 3)
    WHERE identity LIKE 'l:%' AND feed_id IS NOT NULL;
UPDATE articles SET identity = 'h:' || feed_id || ':' || substr(identity, 3)
    WHERE identity LIKE 'h:%' AND feed_id IS NOT NULL;

-- Sightings: one row per item (its key), instead of one per (article, feed, link), which let a
-- second item of a feed under the same link go unrecorded and be compared again at every poll.
-- Rows older than this migration have no key (NULL); the next time their feed carries the item
-- (same feed, same link) the row takes the item's key instead of a second row being written.
CREATE TABLE sightings_new (
    id         INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    feed_id    INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
    item       TEXT UNIQUE,             -- the item's identity key
    link       TEXT,
    title      TEXT,
    kind       TEXT NOT NULL,           -- exact | near
    distance   INTEGER,                 -- near: 100 × (1 − similarity score); exact: NULL
    seen_at    INTEGER NOT NULL
);
INSERT INTO sightings_new (id, article_id, feed_id, link, title, kind, distance, seen_at)
    SELECT id, article_id, feed_id, link, title, kind, distance, seen_at FROM sightings;
DROP TABLE sightings;
ALTER TABLE sightings_new RENAME TO sightings;
CREATE INDEX sightings_article ON sightings(article_id, feed_id);
CREATE INDEX sightings_legacy ON sightings(feed_id, link) WHERE item IS NULL;

-- articles.band0..band3 now hold MinHash keys (dedup::Fingerprint::bands) and articles.simhash
-- the first of them; keys written before this migration (SimHash bands) match nothing new, so
-- copies of stories stored before it are found again once those leave the dedup window.
