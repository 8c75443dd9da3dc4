-- newswatch PostgreSQL schema, version 3 (mirrors SQLite 0007, plus lease owners).
-- Readers' marks on alerts: one row per match, marking again replaces it (see SQLite 0007).
CREATE TABLE feedback (
    match_id  BIGINT PRIMARY KEY REFERENCES matches(id) ON DELETE CASCADE,
    label     TEXT NOT NULL CHECK (label IN ('relevant', 'irrelevant')),
    alert_id  BIGINT REFERENCES alerts(id) ON DELETE SET NULL,  -- the alert that was marked
    via       TEXT NOT NULL,                                    -- cli | web
    marked_at BIGINT NOT NULL
);
CREATE INDEX feedback_alert ON feedback(alert_id) WHERE alert_id IS NOT NULL;

-- Who holds a lease: a daemon gets the rows it holds back (a due alert it could not start yet is
-- not lost for the lease's length), and hands them back when it stops.
ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
-- Alerts are leased in their own columns; next_attempt_at stays the row's own schedule.
ALTER TABLE alerts ADD COLUMN lease_owner TEXT;
ALTER TABLE alerts ADD COLUMN lease_until BIGINT;
