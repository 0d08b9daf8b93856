"""The plans part of the API reference (plans, their charges and charge filters)."""

from __future__ import annotations

from meterbill.core.apidoc import (
    ANY_OBJECT,
    ANY_OBJECT_,
    BOOL,
    INT,
    METADATA_MAP,
    PAGE,
    STR,
    STR_,
    TIME,
    UUID,
    UUID_,
    Reference,
    arr,
    body,
    enum,
    metadata_operations,
    obj,
    op,
    page,
    ref,
    root,
    with_optional,
)
from meterbill.plans.schemas import CHARGE_MODELS, INTERVALS, REGROUP_PAID_FEES

FILTER_VALUES = {
    "type": "object",
    "additionalProperties": arr(STR),
    "description": "Metric filter key to the values this filter matches "
    "(`__ALL_FILTER_VALUES__` for any value).",
}
CHARGE_FILTER = obj(
    "A charge's price for the events whose properties match `values`.",
    invoice_display_name=STR_,
    properties=ANY_OBJECT_,
    values=FILTER_VALUES,
)
CHARGE_FILTER_FULL = obj(
    "A charge filter, as its own routes show it.",
    lago_id=UUID,
    invoice_display_name=STR_,
    properties=ANY_OBJECT_,
    values=FILTER_VALUES,
    created_at=TIME,
)
CHARGE = obj(
    "How a plan prices one billable metric.",
    lago_id=UUID,
    lago_billable_metric_id=UUID,
    code=STR,
    invoice_display_name=STR_,
    billable_metric_code=STR,
    created_at=TIME,
    charge_model=enum(*CHARGE_MODELS),
    invoiceable=BOOL,
    regroup_paid_fees=enum(*REGROUP_PAID_FEES, null=True),
    pay_in_advance=BOOL,
    prorated=BOOL,
    min_amount_cents=INT,
    accepts_target_wallet=BOOL,
    properties={**ANY_OBJECT, "description": "The charge model's parameters (amounts as strings)."},
    applied_pricing_unit={"type": "null"},
    lago_parent_id=UUID_,
    filters=arr(CHARGE_FILTER),
    taxes=arr(ref("Tax")),
)
COMMITMENT = obj(
    "The least a subscription to the plan is invoiced per period.",
    lago_id=UUID,
    plan_code=STR,
    invoice_display_name=STR_,
    amount_cents=INT,
    interval=enum(*INTERVALS),
    created_at=TIME,
    updated_at=TIME,
    taxes=arr(ref("Tax")),
)
PLAN = with_optional(
    obj(
        "A price list: a subscription fee per interval and charges on usage.",
        lago_id=UUID,
        name=STR,
        invoice_display_name=STR_,
        created_at=TIME,
        code=STR,
        interval=enum(*INTERVALS),
        description=STR_,
        amount_cents=INT,
        amount_currency=STR,
        trial_period={"type": ["number", "null"], "description": "Days."},
        pay_in_advance=BOOL,
        bill_charges_monthly={"type": ["boolean", "null"]},
        bill_fixed_charges_monthly={"type": ["boolean", "null"]},
        customers_count=INT,
        active_subscriptions_count=INT,
        draft_invoices_count=INT,
        parent_id=UUID_,
        pending_deletion=BOOL,
        charges=arr(ref("Charge")),
        fixed_charges=arr({}),
        usage_thresholds=arr({}),
        applicable_usage_thresholds=arr({}),
        taxes=arr(ref("Tax")),
        minimum_commitment={"anyOf": [COMMITMENT, {"type": "null"}]},
        entitlements=arr({}),
    ),
    metadata={**METADATA_MAP, "description": "Present only when the plan has metadata."},
)

FILTER_INPUT = body(
    ["values"], values=FILTER_VALUES, properties=ANY_OBJECT, invoice_display_name=STR_
)
CHARGE_INPUT = body(
    id={**STR, "description": "An existing charge's lago_id, to update it (plan bodies)."},
    billable_metric_id={**UUID, "description": "The lago_id of the metric priced."},
    code=STR,
    invoice_display_name=STR_,
    charge_model=enum(*CHARGE_MODELS),
    pay_in_advance=BOOL,
    invoiceable=BOOL,
    prorated=BOOL,
    regroup_paid_fees=enum(*REGROUP_PAID_FEES, null=True),
    min_amount_cents=INT,
    accepts_target_wallet=BOOL,
    properties={**ANY_OBJECT, "description": "The charge model's parameters."},
    filters=arr(FILTER_INPUT),
    tax_codes=arr(STR),
)
PLAN_INPUT = body(
    name=STR,
    code=STR,
    invoice_display_name=STR_,
    description=STR_,
    interval=enum(*INTERVALS),
    amount_cents={**INT, "description": "Subscription fee in minor units."},
    amount_currency={**STR, "description": "ISO 4217."},
    trial_period={"type": ["number", "string", "null"], "description": "Days."},
    pay_in_advance=BOOL,
    bill_charges_monthly={"type": ["boolean", "null"]},
    bill_fixed_charges_monthly={"type": ["boolean", "null"]},
    metadata=METADATA_MAP,
    charges={**arr(CHARGE_INPUT), "description": "Replaces the plan's charges when sent."},
    tax_codes=arr(STR),
    minimum_commitment={
        **body(amount_cents=INT, invoice_display_name=STR_, tax_codes=arr(STR)),
        "description": "An empty object removes the commitment.",
    },
)

PLAN_PATH = {"code": "The plan's code."}
CHARGE_PATH = {**PLAN_PATH, "charge_code": "The charge's code."}
FILTER_PATH = {**CHARGE_PATH, "filter_id": "The filter's lago_id."}
PLANS = "/api/v1/plans"
CHARGES = PLANS + "/{code}/charges"
FILTERS = CHARGES + "/{charge_code}/filters"

REFERENCE = Reference(
    tag="Plans",
    schemas={
        "Plan": PLAN,
        "Charge": CHARGE,
        "ChargeFilter": CHARGE_FILTER_FULL,
        "MinimumCommitment": COMMITMENT,
    },
    operations={
        ("POST", PLANS): op(
            "Create a plan",
            "`name`, `code`, `interval`, `amount_cents` and `amount_currency` are required; "
            "charges may be created with it.",
            root("plan", ref("Plan")),
            request=root(
                "plan",
                {
                    **PLAN_INPUT,
                    "required": ["name", "code", "interval", "amount_cents", "amount_currency"],
                },
            ),
        ),
        ("GET", PLANS): op(
            "List plans", "The organization's plans.", page("plans", ref("Plan")), query=PAGE
        ),
        ("GET", PLANS + "/{code}"): op(
            "Retrieve a plan", "One plan, by code.", root("plan", ref("Plan")), path=PLAN_PATH
        ),
        ("PUT", PLANS + "/{code}"): op(
            "Update a plan",
            "Changes the fields sent; `charges`, when sent, is the plan's whole list.",
            root("plan", ref("Plan")),
            request=root("plan", PLAN_INPUT),
            path=PLAN_PATH,
        ),
        ("DELETE", PLANS + "/{code}"): op(
            "Delete a plan",
            "Deletes the plan and terminates its subscriptions; returns it as it was.",
            root("plan", ref("Plan")),
            path=PLAN_PATH,
        ),
        **metadata_operations(PLANS + "/{code}", PLAN_PATH, "plan"),
        ("GET", CHARGES): op(
            "List a plan's charges",
            "The plan's charges.",
            page("charges", ref("Charge")),
            query=PAGE,
            path=PLAN_PATH,
        ),
        ("POST", CHARGES): op(
            "Add a charge to a plan",
            "`billable_metric_id` and `charge_model` are required.",
            root("charge", ref("Charge")),
            request=root(
                "charge", {**CHARGE_INPUT, "required": ["billable_metric_id", "charge_model"]}
            ),
            path=PLAN_PATH,
        ),
        ("GET", CHARGES + "/{charge_code}"): op(
            "Retrieve a charge",
            "One charge of the plan, by code.",
            root("charge", ref("Charge")),
            path=CHARGE_PATH,
        ),
        ("PUT", CHARGES + "/{charge_code}"): op(
            "Update a charge",
            "Changes the fields sent; the others keep their value.",
            root("charge", ref("Charge")),
            request=root("charge", CHARGE_INPUT),
            path=CHARGE_PATH,
        ),
        ("DELETE", CHARGES + "/{charge_code}"): op(
            "Delete a charge",
            "Removes the charge from the plan; returns it as it was.",
            root("charge", ref("Charge")),
            path=CHARGE_PATH,
        ),
        ("GET", FILTERS): op(
            "List a charge's filters",
            "The charge's filters.",
            page("filters", ref("ChargeFilter")),
            query=PAGE,
            path=CHARGE_PATH,
        ),
        ("POST", FILTERS): op(
            "Add a filter to a charge",
            "A price for the events matching `values`.",
            root("filter", ref("ChargeFilter")),
            request=root("filter", FILTER_INPUT),
            path=CHARGE_PATH,
        ),
        ("GET", FILTERS + "/{filter_id}"): op(
            "Retrieve a charge filter",
            "One filter of the charge.",
            root("filter", ref("ChargeFilter")),
            path=FILTER_PATH,
        ),
        ("PUT", FILTERS + "/{filter_id}"): op(
            "Update a charge filter",
            "Changes the fields sent.",
            root("filter", ref("ChargeFilter")),
            request=root(
                "filter",
                body(values=FILTER_VALUES, properties=ANY_OBJECT, invoice_display_name=STR_),
            ),
            path=FILTER_PATH,
        ),
        ("DELETE", FILTERS + "/{filter_id}"): op(
            "Delete a charge filter",
            "Removes the filter; returns it as it was.",
            root("filter", ref("ChargeFilter")),
            path=FILTER_PATH,
        ),
    },
)
