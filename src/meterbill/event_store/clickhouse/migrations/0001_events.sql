-- Events, one row each, in the order a subscription's usage is read.
CREATE TABLE IF NOT EXISTS events (
    organization_id UUID,
    external_subscription_id String,
    code String,
    timestamp DateTime64(6, 'UTC'),
    id UInt64,
    transaction_id String,
    lago_id UUID,
    -- The properties as received (what the API returns) ...
    properties String,
    -- ... and each non-null one as text, numbers written out in full: what aggregation reads.
    props Map(String, String),
    precise_total_amount_cents Nullable(String),
    created_at DateTime64(6, 'UTC')
) ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (organization_id, external_subscription_id, code, timestamp, id);

-- The idempotency keys, ordered for the duplicate check at ingestion and the lookup
-- of an event by transaction id.
CREATE TABLE IF NOT EXISTS event_keys (
    organization_id UUID,
    transaction_id String,
    external_subscription_id String,
    code String,
    timestamp DateTime64(6, 'UTC'),
    id UInt64
) ENGINE = MergeTree
ORDER BY (organization_id, transaction_id, external_subscription_id);

-- Hourly count (property '') and per numeric property sum, summed again at read time
-- (parts not yet merged hold several rows for one key).
CREATE TABLE IF NOT EXISTS event_hours (
    organization_id UUID,
    external_subscription_id String,
    code String,
    hour DateTime('UTC'),
    property String,
    events_count UInt64,
    total Decimal(76, 30)
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (organization_id, external_subscription_id, code, hour, property);

CREATE MATERIALIZED VIEW IF NOT EXISTS event_hours_mv TO event_hours AS
SELECT
    organization_id,
    external_subscription_id,
    code,
    toStartOfHour(timestamp) AS hour,
    item.1 AS property,
    count() AS events_count,
    sum(toDecimal256(item.2, 30)) AS total
FROM events
ARRAY JOIN arrayConcat(
    [('', '0')],
    arrayFilter(
        pair -> pair.1 != '' AND match(pair.2, '^-?\\d{1,40}(\\.\\d{1,30})?$'),
        arrayZip(mapKeys(props), mapValues(props))
    )
) AS item
GROUP BY organization_id, external_subscription_id, code, hour, property;
