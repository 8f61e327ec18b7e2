-- On-call handoff notices.
-- handoffs: a handoff (schedule, shift start, contact) claimed by the receiver that tells it,
--   once whichever receiver sees it first; outbox_id names the row that tells it (NULL: the
--   person could not be reached).
-- outbox.incident_id may be NULL: a handoff notice is about no incident. The reference to
--   incidents stays for every row that names one.
CREATE TABLE handoffs (
    schedule TEXT NOT NULL,
    shift_start DOUBLE PRECISION NOT NULL,
    contact TEXT NOT NULL,
    claimed_at DOUBLE PRECISION NOT NULL,
    outbox_id TEXT,
    PRIMARY KEY (schedule, shift_start, contact)
);
ALTER TABLE outbox ALTER COLUMN incident_id DROP NOT NULL;
