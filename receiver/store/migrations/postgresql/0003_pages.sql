-- Pages a person answers (phone calls now, SMS and Slack later).
-- outbox.page: an opaque, unguessable reference a provider's callback carries back to its row.
-- outbox.lane: who the row is for (a contact key); rows wait for the earlier row of their own
--   lane only, so calling two people about one incident happens at once; (batch, channel,
--   kind, lane) is unique, one row per person.
-- state 'awaiting': dialed; the provider has not yet said whether a person answered.
-- callbacks: provider event ids already acted on, so a replayed callback changes nothing.
ALTER TABLE outbox DROP CONSTRAINT outbox_state_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_state_check
    CHECK (state IN ('pending', 'awaiting', 'sent', 'failed', 'abandoned'));
ALTER TABLE outbox ADD COLUMN page TEXT;
ALTER TABLE outbox ADD COLUMN lane TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox DROP CONSTRAINT outbox_batch_channel_kind_key;
ALTER TABLE outbox ADD CONSTRAINT outbox_batch_channel_kind_lane_key
    UNIQUE (batch, channel, kind, lane);
CREATE UNIQUE INDEX outbox_page ON outbox (page) WHERE page IS NOT NULL;

CREATE TABLE callbacks (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (provider, event_id)
);
