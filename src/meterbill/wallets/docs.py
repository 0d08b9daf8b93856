"""The wallets part of the API reference (wallets, their metadata and transactions)."""

from __future__ import annotations

from meterbill.core.apidoc import (
    BOOL,
    BOOL_,
    DECIMAL,
    DECIMAL_,
    INT,
    INT_,
    METADATA_MAP,
    PAGE,
    STR,
    STR_,
    TIME,
    TIME_,
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
    q,
    ref,
    root,
    with_optional,
)
from meterbill.wallets.schemas import FEE_TYPES, INTERVALS, METHODS, TRANSACTION_FILTERS, TRIGGERS

KEY_VALUES = arr(obj(key=STR, value=STR))
KEY_VALUES_IN = arr(body(["key", "value"], key=STR, value=STR))
PAYMENT_METHOD = obj(payment_method_id={"type": "null"}, payment_method_type=STR)
RULE = obj(
    "A top-up the wallet makes by itself, on an interval or below a threshold.",
    lago_id=UUID,
    trigger=enum(*TRIGGERS),
    interval=enum(*INTERVALS, null=True),
    method=enum(*METHODS),
    status=STR,
    paid_credits=DECIMAL,
    granted_credits=DECIMAL,
    threshold_credits=DECIMAL_,
    target_ongoing_balance=DECIMAL_,
    grants_target_top_up=BOOL_,
    started_at=TIME_,
    expiration_at=TIME_,
    created_at=TIME,
    invoice_requires_successful_payment=BOOL,
    ignore_paid_top_up_limits=BOOL,
    transaction_metadata=KEY_VALUES,
    transaction_name=STR_,
    purchase_order_number={"type": "null"},
    payment_method={"type": "null"},
    applied_invoice_custom_sections=arr({}),
)
WALLET = with_optional(
    obj(
        "Prepaid credits of a customer, consumed by its invoices. Credits are decimals; "
        "`rate_amount` is the price of one credit.",
        lago_id=UUID,
        lago_customer_id=UUID,
        external_customer_id=STR,
        billing_entity_code=STR_,
        status=enum("active", "terminated"),
        currency=STR,
        name=STR_,
        code=STR,
        priority=INT,
        purchase_order_number={"type": "null"},
        rate_amount=DECIMAL,
        credits_balance=DECIMAL,
        balance_cents=INT,
        consumed_credits=DECIMAL,
        consumed_amount_cents=INT,
        ongoing_balance_cents={**INT, "description": "The balance less current usage."},
        ongoing_usage_balance_cents=INT,
        credits_ongoing_balance=DECIMAL,
        credits_ongoing_usage_balance=DECIMAL,
        created_at=TIME,
        expiration_at=TIME_,
        last_balance_sync_at=TIME_,
        last_consumed_credit_at=TIME_,
        terminated_at=TIME_,
        invoice_requires_successful_payment=BOOL,
        paid_top_up_min_amount_cents=INT_,
        paid_top_up_max_amount_cents=INT_,
        recurring_transaction_rules=arr(RULE),
        applies_to=obj(fee_types=arr(enum(*FEE_TYPES)), billable_metric_codes=arr(STR)),
        payment_method=PAYMENT_METHOD,
        applied_invoice_custom_sections=arr({}),
    ),
    metadata={**METADATA_MAP, "description": "Present only when the wallet has metadata."},
)
TRANSACTION = obj(
    "Credits added to (inbound) or taken from (outbound) a wallet.",
    lago_id=UUID,
    lago_wallet_id=UUID,
    lago_invoice_id=UUID_,
    lago_credit_note_id=UUID_,
    lago_voided_invoice_id=UUID_,
    status=enum(*TRANSACTION_FILTERS["status"]),
    source=STR,
    transaction_status=enum(*TRANSACTION_FILTERS["transaction_status"]),
    transaction_type=enum(*TRANSACTION_FILTERS["transaction_type"]),
    amount={**DECIMAL, "description": "In the wallet's currency."},
    credit_amount=DECIMAL,
    remaining_amount_cents={"type": "null"},
    remaining_credit_amount={"type": "null"},
    priority=INT,
    purchase_order_number={"type": "null"},
    settled_at=TIME_,
    failed_at=TIME_,
    created_at=TIME,
    invoice_requires_successful_payment=BOOL,
    metadata=KEY_VALUES,
    name=STR_,
    payment_method=PAYMENT_METHOD,
    applied_invoice_custom_sections=arr({}),
)
CREDITS_IN = {**STR, "description": "A non-negative decimal, as a string."}
RULE_INPUT = body(
    lago_id={**STR, "description": "An existing rule's lago_id, to update it."},
    trigger=enum(*TRIGGERS),
    interval=enum(*INTERVALS),
    method=enum(*METHODS),
    paid_credits=CREDITS_IN,
    granted_credits=CREDITS_IN,
    threshold_credits=CREDITS_IN,
    target_ongoing_balance=CREDITS_IN,
    started_at=TIME,
    expiration_at=TIME_,
    grants_target_top_up=BOOL,
    invoice_requires_successful_payment=BOOL,
    ignore_paid_top_up_limits=BOOL,
    transaction_name=STR_,
    transaction_metadata=KEY_VALUES_IN,
)
WALLET_UPDATE = body(
    name=STR_,
    priority={**INT, "minimum": 1, "maximum": 50},
    expiration_at=TIME_,
    invoice_requires_successful_payment=BOOL,
    paid_top_up_min_amount_cents=INT_,
    paid_top_up_max_amount_cents=INT_,
    metadata=METADATA_MAP,
    applies_to=body(fee_types=arr(enum(*FEE_TYPES)), billable_metric_codes=arr(STR)),
    recurring_transaction_rules={
        **arr(RULE_INPUT),
        "description": "The wallet's rules: those left out are removed.",
    },
)
WALLET_CREATE = {
    **WALLET_UPDATE,
    "properties": {
        **WALLET_UPDATE["properties"],
        "external_customer_id": {**STR, "description": "Required on POST /wallets."},
        "code": STR,
        "currency": STR,
        "rate_amount": {"type": ["string", "number"], "description": "Price of one credit."},
        "paid_credits": {**CREDITS_IN, "description": "Credits bought now (invoiced)."},
        "granted_credits": {**CREDITS_IN, "description": "Credits given now."},
        "ignore_paid_top_up_limits_on_creation": BOOL,
        "transaction_name": STR_,
        "transaction_priority": {**INT, "minimum": 1, "maximum": 50},
        "transaction_metadata": KEY_VALUES_IN,
    },
    "required": ["rate_amount", "currency"],
}
TRANSACTION_INPUT = body(
    ["wallet_id"],
    wallet_id=UUID,
    paid_credits=CREDITS_IN,
    granted_credits=CREDITS_IN,
    voided_credits=CREDITS_IN,
    invoice_requires_successful_payment=BOOL,
    ignore_paid_top_up_limits=BOOL,
    name=STR_,
    priority={**INT, "minimum": 1, "maximum": 50},
    metadata=KEY_VALUES_IN,
)
ONE = root("wallet", ref("Wallet"))
BY_ID = {"lago_id": "The wallet's lago_id."}
BY_CODE = {"external_id": "The customer's external id.", "code": "The wallet's code."}
CUSTOMER = {"external_id": "The customer's external id."}
WALLETS = "/api/v1/wallets"
CUSTOMER_WALLETS = "/api/v1/customers/{external_id}/wallets"


def _wallet_routes(base: str, path: dict[str, str], *, by: str) -> dict:
    return {
        ("GET", base): op(f"Retrieve a wallet by {by}", "One wallet.", ONE, path=path),
        ("PUT", base): op(
            f"Update a wallet by {by}",
            "Changes the fields sent; `recurring_transaction_rules`, when sent, is the whole set.",
            ONE,
            request=root("wallet", WALLET_UPDATE),
            path=path,
            errors=(404,),
        ),
        ("DELETE", base): op(
            f"Terminate a wallet by {by}",
            "Terminates the wallet; its remaining credits are voided.",
            ONE,
            path=path,
        ),
        **metadata_operations(base, path, "wallet"),
    }


REFERENCE = Reference(
    tag="Wallets",
    schemas={"Wallet": WALLET, "WalletTransaction": TRANSACTION},
    operations={
        ("POST", WALLETS): op(
            "Create a wallet",
            "A wallet for the customer, optionally with credits bought or given at once.",
            ONE,
            request=root(
                "wallet",
                {**WALLET_CREATE, "required": [*WALLET_CREATE["required"], "external_customer_id"]},
            ),
            errors=(404,),
        ),
        ("GET", WALLETS): op(
            "List wallets",
            "One customer's wallets (Lago requires the customer: 404 without it).",
            page("wallets", ref("Wallet")),
            query=(*PAGE, q("external_customer_id", STR, "The customer.", required=True)),
            errors=(404,),
        ),
        **_wallet_routes(WALLETS + "/{lago_id}", BY_ID, by="id"),
        ("POST", CUSTOMER_WALLETS): op(
            "Create a customer's wallet",
            "The same as POST /wallets, the customer named by the path.",
            ONE,
            request=root("wallet", WALLET_CREATE),
            path=CUSTOMER,
        ),
        ("GET", CUSTOMER_WALLETS): op(
            "List a customer's wallets",
            "The customer's wallets.",
            page("wallets", ref("Wallet")),
            query=PAGE,
            path=CUSTOMER,
        ),
        **_wallet_routes(CUSTOMER_WALLETS + "/{code}", BY_CODE, by="code"),
        ("POST", "/api/v1/wallet_transactions"): op(
            "Top up or void credits",
            "Adds paid credits (invoiced), granted credits, or voids credits of a wallet; "
            "one transaction for each kind sent.",
            {
                "type": "object",
                "required": ["wallet_transactions"],
                "properties": {"wallet_transactions": arr(ref("WalletTransaction"))},
            },
            request=root("wallet_transaction", TRANSACTION_INPUT),
            errors=(404,),
        ),
        ("GET", WALLETS + "/{lago_id}/wallet_transactions"): op(
            "List a wallet's transactions",
            "The wallet's transactions, newest first.",
            page("wallet_transactions", ref("WalletTransaction")),
            query=(
                *PAGE,
                *(
                    q(key, enum(*values), f"Only transactions of this {key.replace('_', ' ')}.")
                    for key, values in TRANSACTION_FILTERS.items()
                ),
            ),
            path=BY_ID,
        ),
        ("GET", "/api/v1/wallet_transactions/{lago_id}"): op(
            "Retrieve a wallet transaction",
            "One transaction.",
            root("wallet_transaction", ref("WalletTransaction")),
            path={"lago_id": "The transaction's lago_id."},
        ),
    },
)
