-- callwatch receiver store, version 1 (SQLite). Times are Unix seconds; JSON columns are TEXT.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    group_key TEXT NOT NULL,
    priority TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('triggered', 'acknowledged', 'resolved')),
    summary TEXT NOT NULL,
    provider TEXT,
    opened_at REAL NOT NULL,
    acked_at REAL,
    resolved_at REAL,
    acked_by TEXT,
    truncated_alerts INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '{}',
    alerts TEXT NOT NULL DEFAULT '[]',
    updated_at REAL NOT NULL
);
CREATE INDEX incidents_group ON incidents (group_key, opened_at);
CREATE INDEX incidents_state ON incidents (state);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_incident ON events (incident_id, seq);

CREATE TABLE deliveries (
    key TEXT PRIMARY KEY,
    group_key TEXT NOT NULL,
    received_at REAL NOT NULL
);

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'abandoned')),
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
    UNIQUE (batch, channel, kind)
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_incident ON outbox (incident_id, channel, state);

CREATE TABLE attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id TEXT NOT NULL,
    at REAL NOT NULL,
    worker TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    detail TEXT
);
CREATE INDEX attempts_outbox ON attempts (outbox_id, seq);

-- Durable timers for escalation (issue 5): claimed like outbox rows.
CREATE TABLE timers (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    kind TEXT NOT NULL,
    due_at REAL NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'fired', 'cancelled')),
    claimed_by TEXT,
    claim_expires_at REAL,
    created_at REAL NOT NULL
);
CREATE INDEX timers_due ON timers (state, due_at);
