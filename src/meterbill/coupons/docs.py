"""The coupons part of the API reference (coupons and applied coupons)."""

from __future__ import annotations

from meterbill.core.apidoc import (
    BOOL,
    DECIMAL_,
    DECIMAL_IN,
    INT,
    INT_,
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
)
from meterbill.coupons.schemas import COUPON_TYPES, EXPIRATIONS, FREQUENCIES

STATUSES = ("active", "terminated")
COUPON = obj(
    "A discount, a fixed amount or a percentage, that can be applied to customers.",
    lago_id=UUID,
    name=STR,
    code=STR,
    description=STR_,
    coupon_type=enum(*COUPON_TYPES),
    amount_cents={**INT_, "description": "For fixed_amount coupons."},
    amount_currency=STR_,
    percentage_rate={**DECIMAL_, "description": "For percentage coupons."},
    frequency=enum(*FREQUENCIES),
    frequency_duration={**INT_, "description": "Periods, for recurring coupons."},
    reusable=BOOL,
    limited_plans=BOOL,
    plan_codes=arr(STR),
    limited_billable_metrics=BOOL,
    billable_metric_codes=arr(STR),
    expiration=enum(*EXPIRATIONS),
    expiration_at=TIME_,
    status=enum(*STATUSES),
    created_at=TIME,
    terminated_at=TIME_,
)
APPLIED_COUPON = obj(
    "A coupon applied to a customer, with what is left of it.",
    lago_id=UUID,
    lago_coupon_id=UUID,
    coupon_code=STR,
    coupon_name=STR,
    lago_customer_id=UUID,
    external_customer_id=STR,
    status=enum(*STATUSES),
    amount_cents=INT_,
    amount_cents_remaining={**INT_, "description": "For a fixed amount used once."},
    amount_currency=STR_,
    percentage_rate=DECIMAL_,
    frequency=enum(*FREQUENCIES),
    frequency_duration=INT_,
    frequency_duration_remaining=INT_,
    expiration_at=TIME_,
    created_at=TIME,
    terminated_at=TIME_,
    credits=arr({}),
)
COUPON_INPUT = body(
    name=STR,
    code=STR,
    description=STR_,
    coupon_type=enum(*COUPON_TYPES),
    amount_cents={**INT_, "description": "Minor units; fixed_amount only."},
    amount_currency=STR_,
    percentage_rate={**DECIMAL_IN, "description": "Percentage; percentage coupons only."},
    frequency=enum(*FREQUENCIES),
    frequency_duration=INT_,
    expiration=enum(*EXPIRATIONS),
    expiration_at=TIME_,
    reusable=BOOL,
    applies_to=body(plan_codes=arr(STR), billable_metric_codes=arr(STR)),
)
APPLIED_COUPON_INPUT = body(
    ["external_customer_id", "coupon_code"],
    external_customer_id=STR,
    coupon_code=STR,
    amount_cents={**INT, "description": "Overrides the coupon's amount for this customer."},
    amount_currency=STR,
    percentage_rate=DECIMAL_IN,
    frequency=enum(*FREQUENCIES),
    frequency_duration=INT,
)
APPLIED_FILTERS = (
    *PAGE,
    q("status", enum(*STATUSES), "Only applied coupons in this status."),
    q("coupon_code[]", arr(STR), "Only these coupons."),
)
CODE = {"code": "The coupon's code."}
COUPONS = "/api/v1/coupons"

REFERENCE = Reference(
    tag="Coupons",
    schemas={"Coupon": COUPON, "AppliedCoupon": APPLIED_COUPON},
    operations={
        ("POST", COUPONS): op(
            "Create a coupon",
            "`name`, `code`, `coupon_type`, `frequency` and `expiration` are required, with "
            "the amount or rate its type needs.",
            root("coupon", ref("Coupon")),
            request=root(
                "coupon",
                {
                    **COUPON_INPUT,
                    "required": ["name", "code", "coupon_type", "frequency", "expiration"],
                },
            ),
            example={
                "coupon": {
                    "name": "Welcome",
                    "code": "welcome",
                    "coupon_type": "percentage",
                    "percentage_rate": "10",
                    "frequency": "once",
                    "expiration": "no_expiration",
                }
            },
            errors=(404,),
        ),
        ("GET", COUPONS): op(
            "List coupons",
            "The organization's coupons.",
            page("coupons", ref("Coupon")),
            query=PAGE,
        ),
        ("GET", COUPONS + "/{code}"): op(
            "Retrieve a coupon", "One coupon, by code.", root("coupon", ref("Coupon")), path=CODE
        ),
        ("PUT", COUPONS + "/{code}"): op(
            "Update a coupon",
            "Changes the fields sent; a coupon already applied keeps its terms.",
            root("coupon", ref("Coupon")),
            request=root("coupon", COUPON_INPUT),
            path=CODE,
        ),
        ("DELETE", COUPONS + "/{code}"): op(
            "Delete a coupon",
            "Deletes the coupon and terminates every application of it.",
            root("coupon", ref("Coupon")),
            path=CODE,
        ),
        ("POST", "/api/v1/applied_coupons"): op(
            "Apply a coupon to a customer",
            "Applies the coupon, optionally with a different amount, rate or frequency.",
            root("applied_coupon", ref("AppliedCoupon")),
            request=root("applied_coupon", APPLIED_COUPON_INPUT),
            errors=(404, 405),
        ),
        ("GET", "/api/v1/applied_coupons"): op(
            "List applied coupons",
            "Coupons applied to the organization's customers.",
            page("applied_coupons", ref("AppliedCoupon")),
            query=(*APPLIED_FILTERS, q("external_customer_id", STR, "Only this customer's.")),
        ),
        ("GET", "/api/v1/customers/{external_id}/applied_coupons"): op(
            "List a customer's applied coupons",
            "The coupons applied to the customer.",
            page("applied_coupons", ref("AppliedCoupon")),
            query=APPLIED_FILTERS,
            path={"external_id": "The customer's external id."},
        ),
        ("DELETE", "/api/v1/customers/{external_id}/applied_coupons/{applied_coupon_id}"): op(
            "Remove a coupon from a customer",
            "Terminates the applied coupon; invoices already issued keep their discount.",
            root("applied_coupon", ref("AppliedCoupon")),
            path={
                "external_id": "The customer's external id.",
                "applied_coupon_id": "The applied coupon's lago_id.",
            },
        ),
    },
)
