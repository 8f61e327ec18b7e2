-- The watchdog's heartbeat: when the latest one reached any receiver (Unix seconds), by alert
-- name. The dead man's switch reads it; every receiver sharing the store writes it.
CREATE TABLE heartbeats (
    name TEXT PRIMARY KEY,
    received_at DOUBLE PRECISION NOT NULL
);
