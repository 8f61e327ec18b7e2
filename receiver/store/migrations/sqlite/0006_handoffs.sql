-- On-call handoff notices.
-- handoffs: a handoff (schedule, shift start, contact) claimed by the receiver that tells it,
--   once whichever receiver sees it first; outbox_id names the row that tells it (NULL: the
--   person could not be reached).
-- outbox.incident_id may be NULL: a handoff notice is about no incident. The reference to
--   incidents stays for every row that names one.
-- SQLite cannot drop a NOT NULL in place: the outbox table is rebuilt (as in 0003).
CREATE TABLE handoffs (
    schedule TEXT NOT NULL,
    shift_start REAL NOT NULL,
    contact TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    outbox_id TEXT,
    PRIMARY KEY (schedule, shift_start, contact)
);

CREATE TABLE outbox_new (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    incident_id TEXT REFERENCES incidents (id),
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
    taken_over_from TEXT,
    UNIQUE (batch, channel, kind, lane)
);
INSERT INTO outbox_new (seq, id, incident_id, channel, kind, payload, state, attempts,
                        next_attempt_at, created_at, batch, claimed_by, claim_expires_at,
                        first_attempt_at, delivered_ref, delivered_via, fallback_of, last_error,
                        page, lane, taken_over_from)
    SELECT seq, id, incident_id, channel, kind, payload, state, attempts, next_attempt_at,
           created_at, batch, claimed_by, claim_expires_at, first_attempt_at, delivered_ref,
           delivered_via, fallback_of, last_error, page, lane, taken_over_from
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (state, seq);
CREATE INDEX outbox_incident ON outbox (incident_id, channel, state);
CREATE UNIQUE INDEX outbox_page ON outbox (page) WHERE page IS NOT NULL;
