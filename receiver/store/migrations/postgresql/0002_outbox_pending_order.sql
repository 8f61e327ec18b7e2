-- The dispatcher claims the oldest pending rows first (ORDER BY seq LIMIT n). Indexed by
-- (state, next_attempt_at), every claim read and sorted the whole pending backlog (8 ms per
-- claim with 5,000 rows pending); by (state, seq) it stops after n rows.
DROP INDEX outbox_due;
CREATE INDEX outbox_pending ON outbox (state, seq);
