-- outbox.taken_over_from: the worker whose claim on the row expired before it recorded an
-- attempt (it died, or stalled past its lease, mid-send), set when another worker claims the
-- row; NULL for a row claimed fresh. Such a row may already have been delivered, so the
-- dispatcher asks the far side first where it can tell (Slack: the message's metadata).
ALTER TABLE outbox ADD COLUMN taken_over_from TEXT;
