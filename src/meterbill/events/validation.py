"""events.errors: the hourly report of an hour's invalid events (Lago's
Clock::EventsValidationJob and Events::PostValidationService).

Once an hour ended (five minutes after, as Lago's clock at :05, so that events received
at its last instant are committed), each organization with an endpoint receiving
events.errors gets one report of the events it sent during that hour (by receipt time,
`created_at`, as Lago's last_hour_events_mv) that no charge can bill as sent:

- invalid_code: no billable metric has the event's code (Lago's view drops the events of
  a code whose only metric was deleted: neither reported nor checked);
- missing_aggregation_property: the metric aggregates a property (every type but
  count_agg) and the event lacks it, or the metric adds numbers (sum, max, weighted sum,
  latest) and the value does not read as one (Lago's `^-?\\d+(\\.\\d+)?$`);
- invalid_filter_values: the event has a property named by one of the metric's filters
  with a value that filter does not list.

Transaction ids are listed once each, in the order the events were received; nothing is
sent when all lists are empty. `missing_group_key` is always an empty list: group keys
are gone from Lago's metrics (its service never fills that key, so Lago sends null).

A metric without a field_name (a custom aggregation) is not checked for its property:
Lago's view would report every one of its events as missing one.

Each (organization, hour) is claimed by inserting its row in event_validation_runs in
the transaction that sends the report: however many clock processes tick every minute,
one sends it, and a failure rolls the claim back with it (the next tick tries again).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from meterbill.core.isolation import Failure, isolated
from meterbill.event_store import store_for
from meterbill.events.errors import NUMERIC
from meterbill.events.models import EventValidationRun
from meterbill.metrics.models import BillableMetric, BillableMetricFilter
from meterbill.webhooks.outbox import enqueue, subscribed_organizations

WEBHOOK_TYPE = "events.errors"
# The report of an hour waits this long after it ended (Lago's clock runs it at :05).
REPORT_DELAY = timedelta(minutes=5)
# Claims older than this can no longer be contended (only the last hour is reported).
KEEP_RUNS = timedelta(days=2)
HOUR = timedelta(hours=1)


# What the event store looks for among the hour's events (an event matching any of a
# list's checks is listed).


@dataclass(frozen=True)
class CodeIn:
    """An event of one of these codes."""

    codes: tuple[str, ...]


@dataclass(frozen=True)
class PropertyMissing:
    """An event of `code` without the property `key` (null counts as absent) or, when
    `numeric`, with a value that does not read as a number."""

    code: str
    key: str
    numeric: bool


@dataclass(frozen=True)
class PropertyNotIn:
    """An event of `code` whose property `key` is present with none of `values`."""

    code: str
    key: str
    values: tuple[str, ...]


ReceivedCheck = CodeIn | PropertyMissing | PropertyNotIn


def reported_hour(now: datetime) -> datetime:
    """The start of the hour whose report is due at `now`."""
    ended = (now - REPORT_DELAY).replace(minute=0, second=0, microsecond=0)
    return ended - timedelta(hours=1)


def report_invalid_events(session: Session, now: datetime, failures: list[Failure]) -> list[str]:
    """Send the due hour's reports; the organizations (ids) that were sent one."""
    organizations = subscribed_organizations(session, WEBHOOK_TYPE)
    if not organizations:
        return []
    hour = reported_hour(now)
    session.execute(delete(EventValidationRun).where(EventValidationRun.hour < hour - KEEP_RUNS))
    sent = []
    for organization_id in organizations:
        with isolated(session, failures, "report_invalid_events", organization=organization_id):
            if _report(session, organization_id, hour, now):
                sent.append(str(organization_id))
    return sent


def _report(session: Session, organization_id: uuid.UUID, hour: datetime, now: datetime) -> bool:
    store = store_for(session)
    if not store.received_any(session, organization_id, hour, hour + HOUR):
        return False  # nothing received: nothing to claim either
    if not _claim(session, organization_id, hour, now):
        return False
    errors = _errors(session, organization_id, hour)
    if not any(errors.values()):
        return False
    enqueue(session, organization_id, WEBHOOK_TYPE, "events_errors", errors, now)
    return True


def _claim(session: Session, organization_id: uuid.UUID, hour: datetime, now: datetime) -> bool:
    """Whether this transaction reports the hour: a concurrent claim waits for this one
    to commit (or roll back) and then finds the row there (or not)."""
    dialect = postgresql if _postgres(session) else sqlite
    # RETURNING, not rowcount: an ORM-enabled INSERT does not tell a skipped row.
    inserted = session.execute(
        dialect.insert(EventValidationRun)
        .values(organization_id=organization_id, hour=hour, created_at=now)
        .on_conflict_do_nothing()
        .returning(EventValidationRun.hour)
    )
    return inserted.first() is not None


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _errors(session: Session, organization_id: uuid.UUID, hour: datetime) -> dict[str, list[str]]:
    store = store_for(session)
    codes = store.received_codes(session, organization_id, hour, hour + HOUR)
    metrics = list(
        session.execute(
            select(
                BillableMetric.id,
                BillableMetric.code,
                BillableMetric.aggregation_type,
                BillableMetric.field_name,
                BillableMetric.deleted_at,
            ).where(
                BillableMetric.organization_id == organization_id,
                BillableMetric.code.in_(codes),
            )
        )
    )
    live = [metric for metric in metrics if metric.deleted_at is None]
    unknown = codes - {metric.code for metric in metrics}

    def listed(checks: list[ReceivedCheck]) -> list[str]:
        if not checks:
            return []
        return store.received_transaction_ids(session, organization_id, hour, hour + HOUR, checks)

    return {
        "invalid_code": listed([CodeIn(tuple(sorted(unknown)))] if unknown else []),
        "missing_aggregation_property": listed(
            [check for metric in live if (check := _missing_property(metric)) is not None]
        ),
        "missing_group_key": [],
        "invalid_filter_values": listed(_invalid_filter_values(session, live)),
    }


def _missing_property(metric: Any) -> PropertyMissing | None:
    if metric.aggregation_type == "count_agg" or not metric.field_name:
        return None  # nothing to look for
    return PropertyMissing(metric.code, metric.field_name, metric.aggregation_type in NUMERIC)


def _invalid_filter_values(session: Session, live: list[Any]) -> list[ReceivedCheck]:
    codes = {metric.id: metric.code for metric in live}
    checks: list[ReceivedCheck] = []
    for metric_id, key, values in session.execute(
        select(
            BillableMetricFilter.billable_metric_id,
            BillableMetricFilter.key,
            BillableMetricFilter.values,
        ).where(
            BillableMetricFilter.billable_metric_id.in_(codes),
            BillableMetricFilter.deleted_at.is_(None),
        )
    ):
        checks.append(PropertyNotIn(codes[metric_id], key, tuple(str(item) for item in values)))
    return checks
