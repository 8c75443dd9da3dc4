-- newswatch schema, version 2: alert digests and rate limits.
-- A digest groups the pending alerts of one (topic, sink); its members share `digest_uid` (the
-- digest's stable id) and are delivered, retried and marked together.
ALTER TABLE alerts ADD COLUMN digest_uid TEXT;
CREATE INDEX alerts_digest ON alerts(digest_uid) WHERE digest_uid IS NOT NULL;
-- Rate limits count recent deliveries per (topic, sink); `alerts tail` follows delivered_at.
CREATE INDEX alerts_sent ON alerts(topic, sink, delivered_at) WHERE status = 'delivered';
CREATE INDEX alerts_delivered ON alerts(delivered_at) WHERE status = 'delivered';
