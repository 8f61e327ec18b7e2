-- Pages a person answers (phone calls now, SMS and Slack later).
-- outbox.page: an opaque, unguessable reference a provider's callback carries back to its row.
-- outbox.lane: who the row is for (a contact key); rows wait for the earlier row of their own
--   lane only, so calling two people about one incident happens at once; (batch, channel,
--   kind, lane) is unique, one row per person.
-- state 'awaiting': dialed; the provider has not yet said whether a person answered.
-- callbacks: provider event ids already acted on, so a replayed callback changes nothing.
-- SQLite cannot change a CHECK constraint in place: the outbox table is rebuilt.
CREATE TABLE outbox_new (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'awaiting', 'sent', 'failed', 'abandoned')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    created_at REAL NOT NULL,
    batch TEXT NOT NULL,
    claimed_by TEXT,
    claim_expires_at REAL,
    first_attempt_at REAL,
    delivered_ref TEXT,
    delivered_via TEXT,
    fallback_of TEXT,
    last_error TEXT,
    page TEXT,
    lane TEXT NOT NULL DEFAULT '',
    UNIQUE (batch, channel, kind, lane)
);
INSERT INTO outbox_new (seq, id, incident_id, channel, kind, payload, state, attempts,
                        next_attempt_at, created_at, batch, claimed_by, claim_expires_at,
                        first_attempt_at, delivered_ref, delivered_via, fallback_of, last_error)
    SELECT seq, id, incident_id, channel, kind, payload, state, attempts, next_attempt_at,
           created_at, batch, claimed_by, claim_expires_at, first_attempt_at, delivered_ref,
           delivered_via, fallback_of, last_error
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (state, seq);
CREATE INDEX outbox_incident ON outbox (incident_id, channel, state);
CREATE UNIQUE INDEX outbox_page ON outbox (page) WHERE page IS NOT NULL;

CREATE TABLE callbacks (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (provider, event_id)
);
