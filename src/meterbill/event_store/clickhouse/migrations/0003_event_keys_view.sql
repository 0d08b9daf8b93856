-- The idempotency keys written by the events' insert itself: one INSERT statement a
-- batch instead of two (each statement parses its body and plans its pipeline again).
-- The engine writes the events' part first, then each view's: a failure after the
-- events leaves rows the duplicate check cannot see, as the second insert did before,
-- and the request that failed was not acknowledged. A batch is answered only once the
-- insert, views included, has returned.
CREATE MATERIALIZED VIEW IF NOT EXISTS event_keys_mv TO event_keys AS
SELECT organization_id, transaction_id, external_subscription_id, code, timestamp, id
FROM events;
