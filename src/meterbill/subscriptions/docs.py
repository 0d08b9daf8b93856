"""The subscriptions part of the API reference."""

from __future__ import annotations

from meterbill.core.apidoc import (
    ANY_OBJECT,
    BOOL,
    INT,
    PAGE,
    STR,
    STR_,
    TIME,
    TIME_,
    UUID,
    Reference,
    arr,
    body,
    enum,
    obj,
    op,
    page,
    q,
    ref,
    root,
    with_optional,
)
from meterbill.subscriptions.schemas import (
    BILLING_TIMES,
    STATUSES,
    TERMINATION_CREDIT_NOTES,
    TERMINATION_INVOICES,
)

SUBSCRIPTION_ALONE = obj(
    "A customer's subscription (as invoices embed it: without its plan).",
    lago_id=UUID,
    external_id=STR,
    lago_customer_id=UUID,
    external_customer_id=STR,
    billing_entity_code=STR,
    name=STR_,
    plan_code=STR,
    plan_amount_cents=INT,
    plan_amount_currency=STR,
    status=enum(*STATUSES),
    billing_time=enum(*BILLING_TIMES),
    subscription_at=TIME_,
    started_at=TIME_,
    trial_ended_at=TIME_,
    ending_at=TIME_,
    terminated_at=TIME_,
    canceled_at=TIME_,
    created_at=TIME,
    previous_plan_code=STR_,
    next_plan_code={**STR_, "description": "The plan of a pending downgrade."},
    downgrade_plan_date={**STR_, "format": "date"},
    current_billing_period_started_at=TIME_,
    current_billing_period_ending_at=TIME_,
    on_termination_credit_note=enum(*TERMINATION_CREDIT_NOTES, null=True),
    on_termination_invoice=enum(*TERMINATION_INVOICES),
    progressive_billing_disabled=BOOL,
    consolidate_invoice=BOOL,
    purchase_order_number={"type": "null"},
    cancellation_reason={"type": "null"},
    activated_at=TIME_,
    activation_rules=arr({}),
    applied_invoice_custom_sections=arr({}),
    payment_method={"type": "null"},
)
SUBSCRIPTION = with_optional(
    SUBSCRIPTION_ALONE,
    plan={**ref("Plan"), "description": "The plan, with this subscription's overrides."},
)
SUBSCRIPTION = {
    **SUBSCRIPTION,
    "description": "A customer's subscription to a plan.",
    "required": [*SUBSCRIPTION_ALONE["required"], "plan"],
}
SUBSCRIPTION_INPUT = body(
    external_customer_id={**STR, "description": "The customer subscribed."},
    plan_code=STR,
    external_id={**STR, "description": "Your id for the subscription."},
    name=STR_,
    billing_time=enum(*BILLING_TIMES),
    subscription_at={**TIME, "description": "When it starts (default: now)."},
    ending_at=TIME_,
    on_termination_credit_note=enum(*TERMINATION_CREDIT_NOTES, null=True),
    on_termination_invoice=enum(*TERMINATION_INVOICES),
    plan_overrides={
        **ANY_OBJECT,
        "description": "Plan fields (amount, charges...) this subscription prices differently.",
    },
)
LIST_FILTERS = (
    *PAGE,
    q("plan_code", STR, "Only subscriptions to this plan."),
    q("status[]", arr(enum(*STATUSES)), "Any of these statuses (default: active)."),
)
STATUS = q("status", enum(*STATUSES), "Which of the subscriptions with this id (default active).")
EXTERNAL_ID = {"external_id": "The subscription's external id."}
SUBSCRIPTIONS = "/api/v1/subscriptions"

REFERENCE = Reference(
    tag="Subscriptions",
    schemas={"Subscription": SUBSCRIPTION, "InvoiceSubscription": SUBSCRIPTION_ALONE},
    operations={
        ("POST", SUBSCRIPTIONS): op(
            "Assign a plan to a customer",
            "Creates the subscription, or upgrades / downgrades the one with this "
            "`external_id` when `plan_code` names another plan.",
            root("subscription", ref("Subscription")),
            request=root(
                "subscription",
                {
                    **SUBSCRIPTION_INPUT,
                    "required": ["external_customer_id", "plan_code", "external_id"],
                },
            ),
            example={
                "subscription": {
                    "external_customer_id": "cus",
                    "plan_code": "basic",
                    "external_id": "sub_2",
                }
            },
            errors=(404,),
        ),
        ("GET", SUBSCRIPTIONS): op(
            "List subscriptions",
            "The organization's subscriptions.",
            page("subscriptions", ref("Subscription")),
            query=(*LIST_FILTERS, q("external_customer_id", STR, "Only this customer's.")),
            errors=(404,),
        ),
        ("GET", SUBSCRIPTIONS + "/{external_id}"): op(
            "Retrieve a subscription",
            "One subscription, by external id.",
            root("subscription", ref("Subscription")),
            query=(STATUS,),
            path=EXTERNAL_ID,
        ),
        ("PUT", SUBSCRIPTIONS + "/{external_id}"): op(
            "Update a subscription",
            "Changes its name, start (while pending), end, or plan overrides.",
            root("subscription", ref("Subscription")),
            request=root("subscription", SUBSCRIPTION_INPUT),
            query=(STATUS,),
            path=EXTERNAL_ID,
        ),
        ("DELETE", SUBSCRIPTIONS + "/{external_id}"): op(
            "Terminate a subscription",
            "Terminates it now (a pending one is canceled), with its closing invoice and "
            "credit note as chosen.",
            root("subscription", ref("Subscription")),
            query=(
                STATUS,
                q(
                    "on_termination_credit_note",
                    enum(*TERMINATION_CREDIT_NOTES),
                    "What to do with the unused part of a fee paid in advance.",
                ),
                q(
                    "on_termination_invoice",
                    enum(*TERMINATION_INVOICES),
                    "Whether to invoice the period so far.",
                ),
            ),
            path=EXTERNAL_ID,
        ),
        ("GET", "/api/v1/customers/{external_id}/subscriptions"): op(
            "List a customer's subscriptions",
            "The customer's subscriptions.",
            page("subscriptions", ref("Subscription")),
            query=LIST_FILTERS,
            path={"external_id": "The customer's external id."},
        ),
    },
)
