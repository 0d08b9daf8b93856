"""The current usage part of the API reference."""

from __future__ import annotations

from meterbill.core.apidoc import (
    ANY_OBJECT,
    DATE,
    DECIMAL,
    INT,
    STR,
    STR_,
    TIME,
    UUID,
    Reference,
    arr,
    enum,
    obj,
    op,
    q,
    ref,
    root,
)

TOTALS = {
    "units": DECIMAL,
    "total_aggregated_units": DECIMAL,
    "events_count": INT,
    "amount_cents": INT,
    "pricing_unit_details": {"type": "null"},
}
FILTER_USAGE = obj(
    "Usage of one charge filter (values null: the events no filter matched).",
    **TOTALS,
    invoice_display_name=STR_,
    values={"type": ["object", "null"], "additionalProperties": arr(STR)},
    presentation_breakdowns=arr({}),
)
CHARGE_USAGE = obj(
    "Usage and amount of one charge so far in the period.",
    **TOTALS,
    amount_currency=STR,
    charge=obj(lago_id=UUID, code=STR, charge_model=STR, invoice_display_name=STR_),
    billable_metric=obj(lago_id=UUID, name=STR, code=STR, aggregation_type=STR),
    filters=arr(FILTER_USAGE),
    grouped_usage=arr(
        obj(
            **TOTALS,
            grouped_by={**ANY_OBJECT, "description": "Group key to value."},
            filters=arr(FILTER_USAGE),
            presentation_breakdowns=arr({}),
        )
    ),
    presentation_breakdowns=arr({}),
)
CUSTOMER_USAGE = obj(
    "What a subscription's current period would invoice if it ended now.",
    from_datetime=TIME,
    to_datetime=TIME,
    issuing_date=DATE,
    currency=STR,
    amount_cents=INT,
    taxes_amount_cents=INT,
    total_amount_cents=INT,
    lago_invoice_id={"type": "null"},
    charges_usage=arr(ref("ChargeUsage")),
)

REFERENCE = Reference(
    tag="Usage",
    schemas={"CustomerUsage": CUSTOMER_USAGE, "ChargeUsage": CHARGE_USAGE},
    operations={
        ("GET", "/api/v1/customers/{external_id}/current_usage"): op(
            "Current usage",
            "The usage and amounts of one of the customer's subscriptions in its current "
            "billing period; 405 `no_active_subscription` when it is not active.",
            root("customer_usage", ref("CustomerUsage")),
            query=(
                q("external_subscription_id", STR, "The subscription.", required=True),
                q(
                    "apply_taxes",
                    enum("true", "false"),
                    "Whether amounts include taxes (default true).",
                ),
            ),
            path={"external_id": "The customer's external id."},
            errors=(405,),
        ),
    },
)
