-- Post-incident action items (issue 17): what people agreed to do after an incident.
-- owner: a contact key or free text; due: an ISO date (YYYY-MM-DD); closed_at NULL while open.
CREATE TABLE action_items (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    title TEXT NOT NULL,
    owner TEXT NOT NULL,
    due TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    created_by TEXT NOT NULL,
    closed_at DOUBLE PRECISION,
    closed_by TEXT
);
CREATE INDEX action_items_incident ON action_items (incident_id, created_at);
CREATE INDEX action_items_open ON action_items (closed_at, due);
