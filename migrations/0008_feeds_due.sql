-- The scheduler reads the feeds due longest first, a batch at a time (`feeds::read::due_batch`):
-- with 100,000 feeds, a scan and sort of the whole table per batch kept the writer busy.
CREATE INDEX IF NOT EXISTS feeds_due ON feeds(next_poll_at) WHERE enabled = 1;
