-- newswatch schema, version 7: readers' marks on alerts (`alerts mark`, the dashboard form).
-- A mark judges a match, "this story for this topic", whichever of the match's alerts (one per
-- sink) the reader marked: one row per match, and marking again replaces the row.
CREATE TABLE feedback (
    match_id  INTEGER PRIMARY KEY REFERENCES matches(id) ON DELETE CASCADE,
    label     TEXT NOT NULL CHECK (label IN ('relevant', 'irrelevant')),
    alert_id  INTEGER REFERENCES alerts(id) ON DELETE SET NULL,  -- the alert that was marked
    via       TEXT NOT NULL,                                     -- cli | web
    marked_at INTEGER NOT NULL
);
-- Deleting an alert looks its marks up here (ON DELETE SET NULL).
CREATE INDEX feedback_alert ON feedback(alert_id) WHERE alert_id IS NOT NULL;
