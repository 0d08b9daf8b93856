-- The events page and the events.errors report read events by the time they were
-- received (created_at), the page newest first and one event by id. Ids and created_at
-- both grow with arrival, so a granule's min and max skip most of an organization's
-- granules; the projection keeps an organization's events in the order they were
-- received, so that its latest page (by code and date too) reads from the end of one
-- range instead of every row.
ALTER TABLE events ADD INDEX IF NOT EXISTS ix_created_at created_at TYPE minmax GRANULARITY 1;
ALTER TABLE events ADD INDEX IF NOT EXISTS ix_id id TYPE minmax GRANULARITY 1;
ALTER TABLE events ADD PROJECTION IF NOT EXISTS received
    (SELECT organization_id, created_at, id, code, timestamp
     ORDER BY organization_id, created_at, id);
-- Events stored before this migration: built in the background (a mutation).
ALTER TABLE events MATERIALIZE INDEX ix_created_at;
ALTER TABLE events MATERIALIZE INDEX ix_id;
ALTER TABLE events MATERIALIZE PROJECTION received;
