-- The events page and the events.errors report read events by the time they were
-- received (created_at) and find one by id: both grow with arrival, so a granule's
-- min and max skip most of an organization's granules.
ALTER TABLE events ADD INDEX IF NOT EXISTS ix_created_at created_at TYPE minmax GRANULARITY 1;
ALTER TABLE events ADD INDEX IF NOT EXISTS ix_id id TYPE minmax GRANULARITY 1;
