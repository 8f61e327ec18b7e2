-- GET /incidents pages through every incident, newest first (opened_at DESC, id DESC), after a
-- cursor and under optional filters. Each index below ends in (opened_at, id), so a page is
-- read straight off one index whatever its depth: the plain listing, or one equality filter
-- (state, priority, provider, the alertname label) with the rest checked on the rows it walks.
-- incidents_state (state) is replaced by its longer form.
DROP INDEX incidents_state;
CREATE INDEX incidents_opened ON incidents (opened_at, id);
CREATE INDEX incidents_state_opened ON incidents (state, opened_at, id);
CREATE INDEX incidents_priority_opened ON incidents (priority, opened_at, id);
CREATE INDEX incidents_provider_opened ON incidents (provider, opened_at, id);
CREATE INDEX incidents_alertname_opened
    ON incidents (json_extract(labels, '$.alertname'), opened_at, id);
