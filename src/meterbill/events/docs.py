"""The events part of the API reference."""

from __future__ import annotations

from meterbill.core.apidoc import (
    ANY_OBJECT,
    DECIMAL_,
    DECIMAL_IN,
    PAGE,
    STR,
    TIME,
    UUID,
    UUID_,
    Reference,
    arr,
    body,
    obj,
    op,
    page,
    q,
    ref,
    root,
)
from meterbill.events.schemas import BATCH_MAX

EVENT = obj(
    "One usage event, as recorded.",
    lago_id=UUID,
    transaction_id=STR,
    lago_customer_id={"type": "null"},
    code=STR,
    timestamp={**TIME, "description": "When the usage happened, to the millisecond."},
    precise_total_amount_cents=DECIMAL_,
    properties=ANY_OBJECT,
    lago_subscription_id={"type": "null"},
    external_subscription_id=STR,
    created_at=TIME,
)
EVENT_INPUT = body(
    ["transaction_id", "code", "external_subscription_id"],
    transaction_id={**STR, "description": "Unique per organization: a resend is refused."},
    code={**STR, "description": "The billable metric's code."},
    external_subscription_id=STR,
    timestamp={
        "type": ["integer", "number", "string"],
        "description": "Unix seconds, milliseconds allowed (default: now).",
    },
    properties={**ANY_OBJECT, "description": "The values metrics aggregate and filter on."},
    precise_total_amount_cents={**DECIMAL_IN, "description": "For dynamic charges."},
)
ESTIMATED_FEE = {
    "type": "object",
    "description": "A fee the event would add to a charge paid in advance (not saved).",
    "required": ["lago_id", "lago_charge_id", "amount_cents", "amount_currency", "item"],
    "properties": {
        "lago_id": {"type": "null"},
        "lago_charge_id": UUID,
        "lago_charge_filter_id": UUID_,
        "lago_subscription_id": UUID,
        "external_subscription_id": STR,
        "lago_customer_id": UUID,
        "external_customer_id": STR,
        "item": ANY_OBJECT,
        "amount_cents": {"type": "integer"},
        "amount_currency": STR,
        "precise_amount": STR,
        "units": STR,
        "events_count": {"type": ["integer", "null"]},
    },
}
EVENTS = "/api/v1/events"

REFERENCE = Reference(
    tag="Events",
    schemas={"Event": EVENT},
    operations={
        ("POST", EVENTS): op(
            "Send a usage event",
            "Records one event; a `transaction_id` already used is refused (422).",
            root("event", ref("Event")),
            request=root("event", EVENT_INPUT),
            example={
                "event": {
                    "transaction_id": "tx_0001",
                    "external_subscription_id": "sub",
                    "code": "calls",
                    "properties": {"units": 12, "region": "eu"},
                }
            },
        ),
        ("POST", EVENTS + "/batch"): op(
            "Send usage events in a batch",
            f"Records up to {BATCH_MAX} events at once: all of them, or none when one is "
            "refused (error_details are keyed by the index in the list).",
            {"type": "object", "required": ["events"], "properties": {"events": arr(ref("Event"))}},
            request={
                "type": "object",
                "required": ["events"],
                "properties": {"events": {**arr(EVENT_INPUT), "maxItems": BATCH_MAX}},
            },
        ),
        ("POST", EVENTS + "/estimate_fees"): op(
            "Estimate the fees of an event",
            "The fees the event would add on charges paid in advance, without recording it.",
            {"type": "object", "required": ["fees"], "properties": {"fees": arr(ESTIMATED_FEE)}},
            request=root(
                "event",
                body(
                    ["code", "external_subscription_id"],
                    code=STR,
                    external_subscription_id=STR,
                    properties=ANY_OBJECT,
                ),
            ),
            errors=(404,),
        ),
        ("GET", EVENTS + "/{transaction_id}"): op(
            "Retrieve an event",
            "One event, by transaction id.",
            root("event", ref("Event")),
            path={"transaction_id": "The event's transaction_id."},
        ),
        ("GET", EVENTS): op(
            "List events",
            "The organization's events, newest first.",
            page("events", ref("Event")),
            query=(
                *PAGE,
                q("external_subscription_id", STR, "Only this subscription's events."),
                q("code", STR, "Only events of this metric code."),
                q("timestamp_from", TIME, "Events at or after this instant."),
                q("timestamp_to", TIME, "Events at or before this instant."),
            ),
        ),
    },
)
