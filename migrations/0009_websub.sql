-- WebSub subscriptions (`websub`): one per feed that advertises a hub. When its feed is removed the
-- row stays with `feed_id` NULL until the hub has confirmed the unsubscription.
CREATE TABLE websub_subs (
    id          INTEGER PRIMARY KEY,
    feed_id     INTEGER UNIQUE REFERENCES feeds(id) ON DELETE SET NULL,
    hub         TEXT NOT NULL,
    topic       TEXT NOT NULL,              -- the feed's self URL, as the hub knows it
    secret      TEXT NOT NULL,              -- hub.secret: pushes are signed with it
    state       TEXT NOT NULL,              -- pending | active | unsubscribing
    lease_until INTEGER,                    -- end of the lease the hub granted
    next_at     INTEGER NOT NULL,           -- when to (re)send: a retry, or the renewal
    created_at  INTEGER NOT NULL
);
CREATE INDEX websub_subs_next ON websub_subs(next_at);
