"""Wallet, recurring rule and wallet-transaction requests, and Lago's objects for them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from meterbill.core import fields, metadata
from meterbill.core.limits import LARGEST_DECIMAL, OUT_OF_RANGE
from meterbill.core.money import decimal_string, from_cents
from meterbill.core.times import iso_seconds
from meterbill.core.validation import INVALID, MANDATORY, MISSING, Reader
from meterbill.wallets.credits import credits_of_cents
from meterbill.wallets.models import RecurringTransactionRule, Wallet, WalletTransaction

TRIGGERS = ("interval", "threshold")
INTERVALS = ("weekly", "monthly", "quarterly", "semiannual", "yearly")
METHODS = ("fixed", "target")
FEE_TYPES = ("charge", "subscription", "commitment")
TRANSACTION_FILTERS = {
    "status": ("pending", "settled", "failed"),
    "transaction_type": ("inbound", "outbound"),
    "transaction_status": ("purchased", "granted", "voided", "invoiced"),
}


@dataclass
class RuleInput:
    lago_id: str | None
    columns: dict[str, Any]


@dataclass
class WalletInput:
    external_customer_id: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)
    paid_credits: Decimal | None = None
    granted_credits: Decimal | None = None
    ignore_paid_top_up_limits: bool = False
    transaction_name: str | None = None
    transaction_priority: int | None = None
    transaction_metadata: list[dict[str, str]] = field(default_factory=list)
    applies_to: dict[str, list[str]] | None = None
    rules: list[RuleInput] | None = None


@dataclass
class TransactionInput:
    wallet_id: str
    paid_credits: Decimal | None = None
    granted_credits: Decimal | None = None
    voided_credits: Decimal | None = None
    invoice_requires_successful_payment: bool | None = None
    name: str | None = None
    metadata: list[dict[str, str]] = field(default_factory=list)
    ignore_paid_top_up_limits: bool = False
    priority: int | None = None


def _transaction_priority(reader: Reader, key: str) -> int | None:
    """A wallet transaction's priority: 1 (spent first) to 50, absent for the default."""
    value = reader.integer(key)
    if not isinstance(value, int):
        return None
    if not 1 <= value <= 50:
        reader.add(key, OUT_OF_RANGE)
        return None
    return value


def credits(reader: Reader, key: str) -> Decimal | None:
    """A credits amount: a non-negative decimal string (Lago's DecimalAmountService)."""
    if not reader.has(key) or reader.data[key] is None:
        return None
    raw = reader.data[key]
    try:
        value = Decimal(raw.strip()) if isinstance(raw, str) else None
    except InvalidOperation:
        value = None
    # Beyond what a column holds, an amount is as unusable as a malformed one.
    if value is None or not value.is_finite() or value < 0 or value >= LARGEST_DECIMAL:
        reader.add(key, f"invalid_{key}")
        reader.add(key, "invalid_amount")
        return None
    return value


def key_value_list(reader: Reader, key: str, field_name: str = "metadata") -> list[dict[str, str]]:
    raw = reader.data.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("key"), str)
        and isinstance(item.get("value"), str)
        for item in raw
    ):
        reader.add(field_name, "invalid_key_value")
        return []
    return [{"key": item["key"], "value": item["value"]} for item in raw]


def _metadata(reader: Reader) -> Any:
    value = metadata.read_metadata(reader)
    return {} if value is None else value


def _applies_to(reader: Reader) -> dict[str, list[str]] | None:
    raw = reader.obj("applies_to")
    if not isinstance(raw, dict):
        return None
    nested = Reader(raw, reader.errors)
    fee_types = nested.string_list("fee_types", field="applies_to")
    codes = nested.string_list("billable_metric_codes", field="applies_to")
    fee_types = fee_types if isinstance(fee_types, list) else []
    if any(fee_type not in FEE_TYPES for fee_type in fee_types):
        reader.add("applies_to", "invalid_limitations")
    return {
        "fee_types": list(dict.fromkeys(fee_types)),
        "billable_metric_codes": list(dict.fromkeys(codes if isinstance(codes, list) else [])),
    }


def _rule(raw: Any, errors: dict[str, Any]) -> RuleInput | None:
    """One recurring rule; any fault is reported as Lago's invalid_recurring_rule."""
    if not isinstance(raw, dict):
        errors.setdefault("recurring_transaction_rules", ["invalid_recurring_rule"])
        return None
    reader = Reader(raw)
    columns: dict[str, Any] = {
        "trigger": reader.choice("trigger", TRIGGERS),
        "interval": reader.choice("interval", INTERVALS),
        "method": reader.choice("method", METHODS),
        "paid_credits": credits(reader, "paid_credits"),
        "granted_credits": credits(reader, "granted_credits"),
        "threshold_credits": credits(reader, "threshold_credits"),
        "target_ongoing_balance": credits(reader, "target_ongoing_balance"),
        "started_at": reader.instant("started_at"),
        "expiration_at": reader.instant("expiration_at"),
        "grants_target_top_up": reader.boolean("grants_target_top_up"),
        "invoice_requires_successful_payment": reader.boolean(
            "invoice_requires_successful_payment"
        ),
        "ignore_paid_top_up_limits": reader.boolean("ignore_paid_top_up_limits"),
        "transaction_name": reader.string("transaction_name", max_length=255),
        "transaction_metadata": key_value_list(reader, "transaction_metadata"),
    }
    lago_id = raw.get("lago_id")
    if lago_id is not None and not isinstance(lago_id, str):
        reader.add("lago_id", INVALID)
    method = columns["method"] or "fixed"
    if columns["trigger"] in (None, MISSING):
        reader.add("trigger", MANDATORY)
    elif columns["trigger"] == "interval" and columns["interval"] in (None, MISSING):
        reader.add("interval", MANDATORY)
    elif columns["trigger"] == "threshold" and columns["threshold_credits"] is None:
        reader.add("threshold_credits", MANDATORY)
    if method == "target" and columns["target_ongoing_balance"] is None:
        reader.add("target_ongoing_balance", MANDATORY)
    if reader.errors:
        errors.setdefault("recurring_transaction_rules", ["invalid_recurring_rule"])
        return None
    columns["method"] = method
    for key in ("paid_credits", "granted_credits"):
        columns[key] = columns[key] or Decimal(0)
    for key in ("grants_target_top_up", "invoice_requires_successful_payment",
                "ignore_paid_top_up_limits"):  # fmt: skip
        columns[key] = bool(columns[key])
    return RuleInput(
        lago_id=lago_id,
        columns={key: value for key, value in columns.items() if value is not MISSING},
    )


def _rules(reader: Reader) -> list[RuleInput] | None:
    if not reader.has("recurring_transaction_rules"):
        return None
    raw = reader.data["recurring_transaction_rules"]
    if raw is None:
        return []
    if not isinstance(raw, list):
        reader.add("recurring_transaction_rules", "invalid_recurring_rule")
        return None
    if len(raw) > 1:
        reader.add("recurring_transaction_rules", "invalid_number_of_recurring_rules")
        return None
    rules = [_rule(item, reader.errors) for item in raw]
    return [rule for rule in rules if rule is not None]


def parse_wallet(
    data: dict[str, Any], *, creating: bool, external_customer_id: str | None = None
) -> WalletInput:
    reader = Reader(data)
    customer = external_customer_id
    if creating and customer is None:
        value = reader.string("external_customer_id", required=True)
        customer = value if isinstance(value, str) else None
    columns: dict[str, Any] = {
        "name": reader.string("name", max_length=255),
        "priority": reader.integer("priority"),
        "expiration_at": reader.instant("expiration_at"),
        "invoice_requires_successful_payment": reader.boolean(
            "invoice_requires_successful_payment"
        ),
        "paid_top_up_min_amount_cents": reader.amount_cents(
            "paid_top_up_min_amount_cents", minimum=1
        ),
        "paid_top_up_max_amount_cents": reader.amount_cents(
            "paid_top_up_max_amount_cents", minimum=1
        ),
        "metadata_items": _metadata(reader),
    }
    if creating:
        columns["code"] = reader.string("code", max_length=255)
        columns["currency"] = fields.currency(reader, "currency")
        rate = reader.decimal("rate_amount")
        if rate in (MISSING, None) and "rate_amount" not in reader.errors:
            reader.add("rate_amount", MANDATORY)
        elif isinstance(rate, Decimal) and rate <= 0:
            reader.add("rate_amount", OUT_OF_RANGE)
        columns["rate_amount"] = rate
    priority = columns["priority"]
    if isinstance(priority, int) and not 1 <= priority <= 50:
        reader.add("priority", OUT_OF_RANGE)
    if columns["invoice_requires_successful_payment"] is None:
        columns["invoice_requires_successful_payment"] = False
    parsed = WalletInput(
        external_customer_id=customer,
        applies_to=_applies_to(reader),
        rules=_rules(reader),
    )
    if creating:
        parsed.paid_credits = credits(reader, "paid_credits")
        parsed.granted_credits = credits(reader, "granted_credits")
        parsed.ignore_paid_top_up_limits = bool(
            reader.boolean("ignore_paid_top_up_limits_on_creation")
        )
        name = reader.string("transaction_name", max_length=255)
        parsed.transaction_name = name if isinstance(name, str) else None
        parsed.transaction_priority = _transaction_priority(reader, "transaction_priority")
        parsed.transaction_metadata = key_value_list(reader, "transaction_metadata")
    reader.raise_if_any()
    parsed.columns = {
        key: value
        for key, value in columns.items()
        if value is not MISSING and not (key == "priority" and value is None)
    }
    return parsed


def parse_transaction(data: dict[str, Any]) -> TransactionInput:
    reader = Reader(data)
    wallet_id = reader.string("wallet_id")
    if not isinstance(wallet_id, str):
        reader.add("wallet_id", "wallet_not_found")
    parsed = TransactionInput(
        wallet_id=wallet_id if isinstance(wallet_id, str) else "",
        paid_credits=credits(reader, "paid_credits"),
        granted_credits=credits(reader, "granted_credits"),
        voided_credits=credits(reader, "voided_credits"),
        metadata=key_value_list(reader, "metadata"),
    )
    requires = reader.boolean("invoice_requires_successful_payment")
    parsed.invoice_requires_successful_payment = requires if isinstance(requires, bool) else None
    parsed.ignore_paid_top_up_limits = bool(reader.boolean("ignore_paid_top_up_limits"))
    name = reader.string("name", max_length=255)
    parsed.name = name if isinstance(name, str) else None
    parsed.priority = _transaction_priority(reader, "priority")
    reader.raise_if_any()
    return parsed


_CODE_CHARACTERS = re.compile(r"[^a-z0-9]+")


def code_from_name(name: str | None) -> str:
    """Lago derives a missing code from the name (parameterized), else "default"."""
    slug = _CODE_CHARACTERS.sub("_", (name or "").lower()).strip("_")
    return slug or "default"


def _credits_string(value: Decimal) -> str:
    return decimal_string(value)


def _money_string(cents: int, currency: str) -> str:
    return decimal_string(from_cents(cents, currency))


def rule_object(rule: RecurringTransactionRule) -> dict[str, Any]:
    def optional(value: Decimal | None) -> str | None:
        return decimal_string(value) if value is not None else None

    return {
        "lago_id": str(rule.id),
        "trigger": rule.trigger,
        "interval": rule.interval,
        "method": rule.method,
        "status": rule.status,
        "paid_credits": decimal_string(rule.paid_credits),
        "granted_credits": decimal_string(rule.granted_credits),
        "threshold_credits": optional(rule.threshold_credits),
        "target_ongoing_balance": optional(rule.target_ongoing_balance),
        "grants_target_top_up": rule.grants_target_top_up,
        "started_at": iso_seconds(rule.started_at),
        "expiration_at": iso_seconds(rule.expiration_at),
        "created_at": iso_seconds(rule.created_at),
        "invoice_requires_successful_payment": rule.invoice_requires_successful_payment,
        "ignore_paid_top_up_limits": rule.ignore_paid_top_up_limits,
        "transaction_metadata": rule.transaction_metadata or [],
        "transaction_name": rule.transaction_name,
        "purchase_order_number": None,
        "payment_method": None,
        "applied_invoice_custom_sections": [],
    }


@dataclass(frozen=True)
class WalletView:
    """A wallet with what its object shows beside its own columns."""

    wallet: Wallet
    external_customer_id: str
    billing_entity_code: str | None
    metric_codes: list[str]
    rules: list[RecurringTransactionRule]
    ongoing_usage_cents: int


def wallet_object(view: WalletView) -> dict[str, Any]:
    wallet = view.wallet
    rate, currency = wallet.rate_amount, wallet.currency
    ongoing_balance = wallet.balance_cents - view.ongoing_usage_cents
    return {
        "lago_id": str(wallet.id),
        "lago_customer_id": str(wallet.customer_id),
        "external_customer_id": view.external_customer_id,
        "billing_entity_code": view.billing_entity_code,
        "status": wallet.status,
        "currency": currency,
        "name": wallet.name,
        "code": wallet.code,
        "priority": wallet.priority,
        "purchase_order_number": None,
        "rate_amount": decimal_string(rate),
        "credits_balance": _credits_string(credits_of_cents(wallet.balance_cents, rate, currency)),
        "balance_cents": wallet.balance_cents,
        "consumed_credits": _credits_string(
            credits_of_cents(wallet.consumed_amount_cents, rate, currency)
        ),
        "consumed_amount_cents": wallet.consumed_amount_cents,
        "ongoing_balance_cents": ongoing_balance,
        "ongoing_usage_balance_cents": view.ongoing_usage_cents,
        "credits_ongoing_balance": _credits_string(
            credits_of_cents(ongoing_balance, rate, currency)
        ),
        "credits_ongoing_usage_balance": _credits_string(
            credits_of_cents(view.ongoing_usage_cents, rate, currency)
        ),
        "created_at": iso_seconds(wallet.created_at),
        "expiration_at": iso_seconds(wallet.expiration_at),
        "last_balance_sync_at": iso_seconds(wallet.last_balance_sync_at),
        "last_consumed_credit_at": iso_seconds(wallet.last_consumed_credit_at),
        "terminated_at": iso_seconds(wallet.terminated_at),
        "invoice_requires_successful_payment": wallet.invoice_requires_successful_payment,
        "paid_top_up_min_amount_cents": wallet.paid_top_up_min_amount_cents,
        "paid_top_up_max_amount_cents": wallet.paid_top_up_max_amount_cents,
        "recurring_transaction_rules": [
            rule_object(rule) for rule in view.rules if rule.status == "active"
        ],
        "applies_to": {
            "fee_types": list(wallet.fee_types or []),
            "billable_metric_codes": view.metric_codes,
        },
        **({"metadata": wallet.metadata_items} if wallet.metadata_items else {}),
        "payment_method": {"payment_method_id": None, "payment_method_type": "provider"},
        "applied_invoice_custom_sections": [],
    }


def metadata_object(wallet: Wallet) -> dict[str, Any]:
    return metadata.metadata_response(wallet.metadata_items)


def transaction_object(transaction: WalletTransaction, wallet: Wallet) -> dict[str, Any]:
    return {
        "lago_id": str(transaction.id),
        "lago_wallet_id": str(transaction.wallet_id),
        "lago_invoice_id": str(transaction.invoice_id) if transaction.invoice_id else None,
        "lago_credit_note_id": (
            str(transaction.credit_note_id) if transaction.credit_note_id else None
        ),
        "lago_voided_invoice_id": (
            str(transaction.voided_invoice_id) if transaction.voided_invoice_id else None
        ),
        "status": transaction.status,
        "source": transaction.source,
        "transaction_status": transaction.transaction_status,
        "transaction_type": transaction.transaction_type,
        "amount": _money_string(transaction.amount_cents, wallet.currency),
        "credit_amount": _credits_string(transaction.credit_amount),
        "remaining_amount_cents": None,
        "remaining_credit_amount": None,
        "priority": transaction.priority,
        "purchase_order_number": None,
        "settled_at": iso_seconds(transaction.settled_at),
        "failed_at": iso_seconds(transaction.failed_at),
        "created_at": iso_seconds(transaction.created_at),
        "invoice_requires_successful_payment": transaction.invoice_requires_successful_payment,
        "metadata": transaction.metadata_items or [],
        "name": transaction.name,
        "payment_method": {"payment_method_id": None, "payment_method_type": "provider"},
        "applied_invoice_custom_sections": [],
    }
