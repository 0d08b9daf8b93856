"""Sending the outbox: claim due rows, POST them as Lago does, record each outcome.

Claiming sets a lease (next_attempt_at moves past the send's timeout) in a short
transaction, with FOR UPDATE SKIP LOCKED on PostgreSQL, so that any number of workers
share the table and none sends a row another holds. The sends run outside any
transaction, concurrently; a worker that dies after claiming leaves its rows to be
claimed again when the lease ends (at least once, with the same unique key).
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    Text,
    bindparam,
    cast,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from meterbill.core.db import Database
from meterbill.operations.telemetry import WEBHOOK_DELIVERIES
from meterbill.webhooks.keys import hmac_signature, jwt_signature, organization_keys
from meterbill.webhooks.models import Webhook, WebhookEndpoint
from meterbill.webhooks.outbox import materialize
from meterbill.webhooks.schemas import RESPONSE_EXCERPT
from meterbill.webhooks.sender import Sender

logger = logging.getLogger("meterbill.webhooks")

# Lago's RESPONSE_SUCCESS_CODES: any other answer is a failed attempt.
SUCCESS_CODES = frozenset({200, 201, 202, 204})
DUE = ("pending", "retrying")
# The predicate of the partial index of due rows, written as the index writes it: a
# planner uses a partial index only for a condition it can see implies the index's.
DUE_LITERALLY = Webhook.status.in_([literal_column("'pending'"), literal_column("'retrying'")])
# A claim holds its rows this long beyond the send's timeout.
LEASE_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class DeliveryOptions:
    attempts: int = 3
    timeout_seconds: float = 30.0
    # The JWT's `iss` claim (Lago's LAGO_API_URL).
    issuer: str = "http://localhost:3000"
    # Sends in flight at once, and at most this many per endpoint: a slow endpoint
    # holds only its own share of the senders.
    concurrency: int = 32
    per_endpoint: int = 4
    # Claimed ahead per endpoint (queued or in flight), and rows per claim.
    per_endpoint_queue: int = 16
    batch: int = 200

    @property
    def lease(self) -> timedelta:
        """How long a claim holds its rows: the sends of a full queue, one timeout after
        another per sender, and a margin."""
        rounds = -(-self.per_endpoint_queue // self.per_endpoint)
        return timedelta(seconds=self.timeout_seconds * rounds) + LEASE_MARGIN


def backoff(failures: int, rng: random.Random) -> timedelta:
    """Wait after the n-th failure: n⁴ + random(0..0.15·n⁴) + 2 s (Rails' polynomial)."""
    base = failures**4
    return timedelta(seconds=base + rng.uniform(0, 0.15 * base) + 2)


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    endpoint_id: uuid.UUID
    object_id: str | None
    url: str
    body: bytes
    signature_algo: str
    # The organization's key for that algorithm: HMAC key or RSA private key (PEM).
    key: str
    issuer: str
    # As claimed: the outcome is recorded against them.
    attempts: int = 0
    max_attempts: int | None = None

    def headers(self) -> dict[str, str]:
        """Signed here, in the sender's thread, not in the claim's transaction."""
        signature = (
            hmac_signature(self.key, self.body)
            if self.signature_algo == "hmac"
            else jwt_signature(self.key, self.body, self.issuer)
        )
        return {
            "Content-Type": "application/json",
            "X-Lago-Signature": signature,
            "X-Lago-Signature-Algorithm": self.signature_algo,
            "X-Lago-Unique-Key": str(self.id),
        }


@dataclass(frozen=True)
class Outcome:
    id: uuid.UUID
    succeeded: bool
    http_status: int | None
    response: str
    attempts: int = 0
    max_attempts: int | None = None


def _due(now: datetime, organization_id: uuid.UUID | None) -> list[Any]:
    conditions: list[Any] = [Webhook.status.in_(DUE), Webhook.next_attempt_at <= now]
    if organization_id is not None:
        conditions.append(Webhook.organization_id == organization_id)
    return conditions


def claim(
    db: Database,
    now: datetime,
    options: DeliveryOptions,
    limit: int,
    in_flight: dict[uuid.UUID, int] | None = None,
    organization_id: uuid.UUID | None = None,
) -> list[Claimed]:
    """Lease up to `limit` due deliveries, oldest first, at most `per_endpoint_queue`
    per endpoint counting those this process holds already (`in_flight`); return them
    signed and ready to send."""
    in_flight = in_flight or {}
    with db.transaction() as session:
        # Round robin: every endpoint's first rows before anyone's second, so that an
        # endpoint with a backlog never takes the whole claim.
        candidates = sorted(
            (rank + in_flight.get(endpoint_id, 0), ordinal, row_id)
            for endpoint_id, rows in _first_due(
                session, now, options.per_endpoint_queue, organization_id
            ).items()
            for rank, (ordinal, row_id) in enumerate(rows, start=1)
        )
        chosen = [
            row_id for held, _ordinal, row_id in candidates if held <= options.per_endpoint_queue
        ][:limit]
        if not chosen:
            return []
        table = Webhook.__table__
        columns = (
            table.c.id,
            table.c.organization_id,
            table.c.webhook_endpoint_id,
            table.c.object_id,
            table.c.attempts,
            table.c.max_attempts,
            # The payload as stored: sent and signed as is, never re-serialized.
            cast(table.c.payload, Text).label("body"),
        )
        rows = list(
            session.execute(
                select(*columns)
                .where(table.c.id.in_(chosen), *_due(now, organization_id))
                .order_by(table.c.ordinal)
                .with_for_update(skip_locked=True)
            )
        )
        if not rows:
            return []
        deferred = [row.id for row in rows if row.body is None]
        if deferred:
            # A billing run's webhooks: rendered now, under this claim's locks.
            materialize(session, webhook_ids=deferred)
            rows = list(
                session.execute(
                    select(*columns)
                    .where(table.c.id.in_([row.id for row in rows]))
                    .order_by(table.c.ordinal)
                )
            )
        session.execute(
            update(table)
            .where(table.c.id.in_([row.id for row in rows]))
            .values(next_attempt_at=now + options.lease)
        )
        return _prepared(session, rows, options, now)


def _first_due(
    session: Session, now: datetime, per_endpoint: int, organization_id: uuid.UUID | None
) -> dict[uuid.UUID, list[tuple[int, uuid.UUID]]]:
    """Each endpoint's first due rows (ordinal, id), oldest first, at most `per_endpoint`.

    Read endpoint by endpoint through the partial index of due rows, so that a claim
    costs the same whatever the backlog: ranking every due row costs a scan of all of
    them at each claim, and a backlog of a dead endpoint slowed everyone's claims.
    """
    endpoints = select(WebhookEndpoint.id)
    if organization_id is not None:
        endpoints = endpoints.where(WebhookEndpoint.organization_id == organization_id)

    def firsts(endpoint_id: Any) -> Select[Any]:
        return (
            select(Webhook.webhook_endpoint_id, Webhook.ordinal, Webhook.id)
            .where(
                Webhook.webhook_endpoint_id == endpoint_id,
                DUE_LITERALLY,
                Webhook.next_attempt_at <= now,
            )
            .order_by(Webhook.ordinal)
            .limit(per_endpoint)
        )

    found: dict[uuid.UUID, list[tuple[int, uuid.UUID]]] = defaultdict(list)
    if session.get_bind().dialect.name == "postgresql":
        endpoint = endpoints.subquery("endpoint")
        lateral = firsts(endpoint.c.id).lateral("due")
        rows: Iterable[Any] = session.execute(
            select(lateral).select_from(endpoint).join(lateral, true())
        )
    else:
        # SQLite has no LATERAL: one indexed read per endpoint, in process.
        rows = (
            row
            for endpoint_id in session.scalars(endpoints).all()
            for row in session.execute(firsts(endpoint_id))
        )
    for endpoint_id, ordinal, row_id in rows:
        found[endpoint_id].append((ordinal, row_id))
    return found


def _prepared(
    session: Session, rows: list[Any], options: DeliveryOptions, now: datetime
) -> list[Claimed]:
    endpoints = {
        endpoint.id: endpoint
        for endpoint in session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id.in_({row.webhook_endpoint_id for row in rows})
            )
        )
    }
    keys = {
        organization_id: organization_keys(session, organization_id, now)
        for organization_id in {row.organization_id for row in rows}
    }
    prepared = []
    for row in rows:
        endpoint = endpoints[row.webhook_endpoint_id]
        org_keys = keys[row.organization_id]
        hmac = endpoint.signature_algo == "hmac"
        prepared.append(
            Claimed(
                id=row.id,
                endpoint_id=endpoint.id,
                object_id=row.object_id,
                url=endpoint.webhook_url,
                body=row.body.encode(),
                signature_algo=endpoint.signature_algo,
                key=org_keys.hmac_key if hmac else org_keys.private_key_pem,
                issuer=options.issuer,
                attempts=row.attempts,
                max_attempts=row.max_attempts,
            )
        )
    return prepared


def send(client: Sender, claimed: Claimed, options: DeliveryOptions) -> Outcome:
    """One POST. Any exception of the transport (timeout, refused, TLS, DNS) is a failed
    attempt with its message as the response."""
    try:
        answer = client.post(
            claimed.url,
            claimed.body,
            claimed.headers(),
            options.timeout_seconds,
            RESPONSE_EXCERPT,
        )
    except Exception as error:
        message = f"{type(error).__name__}: {error}"[:RESPONSE_EXCERPT]
        return Outcome(claimed.id, False, None, message, claimed.attempts, claimed.max_attempts)
    return Outcome(
        claimed.id,
        answer.status in SUCCESS_CODES,
        answer.status,
        answer.text,
        claimed.attempts,
        claimed.max_attempts,
    )


def send_in_order(client: Sender, group: list[Claimed], options: DeliveryOptions) -> list[Outcome]:
    """One object's deliveries to one endpoint, one after the other, in commit order."""
    return [send(client, claimed, options) for claimed in group]


def grouped(claimed: Iterable[Claimed]) -> list[list[Claimed]]:
    groups: dict[tuple[uuid.UUID, str], list[Claimed]] = defaultdict(list)
    alone: list[list[Claimed]] = []
    for item in claimed:
        if item.object_id is None:
            alone.append([item])
        else:
            groups[(item.endpoint_id, item.object_id)].append(item)
    return [*groups.values(), *alone]


def record(
    db: Database,
    outcomes: Iterable[Outcome],
    now: datetime,
    options: DeliveryOptions,
    rng: random.Random,
) -> None:
    """Store the outcomes in one transaction: succeeded, retrying after a back-off, or
    failed once the attempt budget is spent."""
    parameters = []
    for outcome in outcomes:
        attempts = outcome.attempts + 1
        status, next_at = "succeeded", now
        if not outcome.succeeded:
            if attempts >= (outcome.max_attempts or options.attempts):
                status = "failed"
            else:
                status, next_at = "retrying", now + backoff(attempts, rng)
        WEBHOOK_DELIVERIES.labels(status).inc()
        parameters.append({
            "b_id": outcome.id, "b_before": outcome.attempts, "b_attempts": attempts,
            "b_status": status, "b_next": next_at, "b_http": outcome.http_status,
            "b_response": outcome.response,
        })  # fmt: skip
    if not parameters:
        return
    table = Webhook.__table__
    # Guarded by the attempts claimed: a row whose lease ran out and that another worker
    # sent and recorded meanwhile is not recorded twice.
    statement = (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            # Not IN (...): an expanding list cannot go in an executemany.
            or_(*(table.c.status == status for status in DUE)),
            table.c.attempts == bindparam("b_before"),
        )
        .values(
            status=bindparam("b_status"),
            attempts=bindparam("b_attempts"),
            next_attempt_at=bindparam("b_next"),
            http_status=bindparam("b_http"),
            response=bindparam("b_response"),
            last_attempt_at=now,
            updated_at=now,
        )
    )
    with db.transaction() as session:
        session.connection().execute(statement, parameters)


@dataclass
class DeliveryReport:
    sent: int = 0
    succeeded: int = 0
    failed_attempts: int = 0


def deliver_due(
    db: Database,
    now: datetime,
    options: DeliveryOptions | None = None,
    *,
    client: Sender | None = None,
    rng: random.Random | None = None,
    organization_id: uuid.UUID | None = None,
) -> DeliveryReport:
    """Send everything due at `now` (one organization's, or all) and record it as of
    `now`: tests drive retries by passing later instants.

    Rows retried after a failure are due later than `now`, so this returns."""
    options = options or DeliveryOptions()
    rng = rng or random.Random()
    report = DeliveryReport()
    own_client = client is None
    http = client or new_client(options)
    try:
        with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
            while claimed := claim(db, now, options, options.batch, None, organization_id):
                outcomes = [
                    outcome
                    for batch in pool.map(
                        lambda g: send_in_order(http, g, options), grouped(claimed)
                    )
                    for outcome in batch
                ]
                record(db, outcomes, now, options, rng)
                report.sent += len(outcomes)
                report.succeeded += sum(outcome.succeeded for outcome in outcomes)
                report.failed_attempts += sum(not outcome.succeeded for outcome in outcomes)
    finally:
        if own_client:
            http.close()
    return report


def new_client(options: DeliveryOptions) -> Sender:
    return Sender()


class DeliveryLoop:
    """Delivery in the background of `serve` and `meterbill worker`.

    A thread claims due rows into a queue per endpoint; senders (a pool) drain each
    queue with at most `per_endpoint` of them per endpoint, so a slow endpoint holds
    only its own senders, never another endpoint's deliveries nor the billing clock
    (which runs in another thread). Outcomes are recorded in batches.
    """

    def __init__(
        self,
        db: Database,
        options: DeliveryOptions,
        clock: Callable[[], datetime],
        poll_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.options = options
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        # Per endpoint: groups waiting, senders running, rows held (queued or sending).
        self._queues: dict[uuid.UUID, deque[list[Claimed]]] = defaultdict(deque)
        self._senders: dict[uuid.UUID, int] = defaultdict(int)
        self._held: dict[uuid.UUID, int] = defaultdict(int)
        self._done: list[Outcome] = []
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._http: Sender | None = None

    @property
    def _capacity(self) -> int:
        return self.options.concurrency * 4

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="webhook-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.options.timeout_seconds + 5)

    def run(self) -> None:
        rng = random.Random()
        self._http = new_client(self.options)
        self._pool = ThreadPoolExecutor(max_workers=self.options.concurrency)
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    self._flush(rng)
                    claimed = self._claim()
                except Exception:
                    logger.exception("webhook delivery step failed")
                    claimed = False
                if not claimed:
                    with self._lock:
                        busy = any(self._held.values())
                    # While sends are under way, their outcomes are recorded soon.
                    self._wake.wait(0.05 if busy else self.poll_seconds)
        finally:
            with self._lock:
                self._queues.clear()  # their leases run out; another worker sends them
            self._pool.shutdown(wait=True)
            self._flush(rng)
            self._http.close()

    def _flush(self, rng: random.Random) -> None:
        with self._lock:
            done, self._done = self._done, []
        record(self.db, done, self.clock(), self.options, rng)

    def _claim(self) -> bool:
        with self._lock:
            held = {endpoint: count for endpoint, count in self._held.items() if count}
        room = self._capacity - sum(held.values())
        if room <= 0:
            return False
        limit = min(room, self.options.batch)
        claimed = claim(self.db, self.clock(), self.options, limit, held)
        with self._lock:
            for group in grouped(claimed):
                endpoint = group[0].endpoint_id
                self._queues[endpoint].append(group)
                self._held[endpoint] += len(group)
                if self._senders[endpoint] < self.options.per_endpoint:
                    self._senders[endpoint] += 1
                    assert self._pool is not None
                    self._pool.submit(self._drain, endpoint)
        return bool(claimed)

    def _drain(self, endpoint: uuid.UUID) -> None:
        """Send the endpoint's queued groups until its queue is empty."""
        assert self._http is not None
        while not self._stop.is_set():
            with self._lock:
                queue = self._queues.get(endpoint)
                if not queue:
                    # Under the lock that _claim takes to queue more: nothing strands.
                    self._senders[endpoint] -= 1
                    break
                group = queue.popleft()
            outcomes = send_in_order(self._http, group, self.options)
            with self._lock:
                self._done.extend(outcomes)
                self._held[endpoint] -= len(group)
                low = sum(self._held.values()) <= self._capacity // 2
            if low:
                self._wake.set()
        else:
            with self._lock:
                self._senders[endpoint] -= 1
        self._wake.set()
