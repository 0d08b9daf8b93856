"""The credit note form as plain data: what a submitted form asks the credit note API's
parser for, and the service's refusals in words under the fields that caused them.

No rule lives here. Amounts typed in currency units become minor units, ticked items
become the API's `items`, and the allocation becomes `credit_amount_cents`,
`refund_amount_cents` and `offset_amount_cents`; the body then goes through the API's
own parser (credit_notes.schemas.parse_credit_note) and service. The limits the
messages quote (a fee's creditable amount, what was paid, what is due) are the figures
the service computed for the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meterbill.core.errors import MeterbillError, ValidationFailed
from meterbill.core.limits import AMOUNT_CENTS_MAX
from meterbill.credit_notes.schemas import ItemInput
from meterbill.dashboard.action_forms import FormErrors, message, money_cents
from meterbill.dashboard.formats import money, typed_amount
from meterbill.dashboard.web import FormData

# Lago's reasons and their labels, in the order its form lists them.
REASONS = [
    ("duplicated_charge", "Duplicate charge"),
    ("fraudulent_charge", "Fraudulent charge"),
    ("order_cancellation", "Cancellation"),
    ("order_change", "Order change"),
    ("other", "Other"),
    ("product_unsatisfactory", "Unsatisfactory product"),
]
REASON_LABELS = dict(REASONS)
# The allocation's form fields and the API's.
ALLOCATION = {
    "credit_amount": "credit_amount_cents",
    "refund_amount": "refund_amount_cents",
    "offset_amount": "offset_amount_cents",
}
MISMATCH = "Allocation do not match credit note amount"


def item_field(fee_id: str) -> str:
    return f"item-{fee_id}"


@dataclass
class CreditNoteForm:
    """The form as submitted: typed texts, kept as they were for a re-render."""

    reason: str = ""
    description: str = ""
    ticked: set[str] = field(default_factory=set)  # fee ids
    amounts: dict[str, str] = field(default_factory=dict)  # fee id -> typed amount
    allocation: dict[str, str] = field(default_factory=dict)  # form field -> typed amount

    def amount(self, fee_id: str) -> str:
        return self.amounts.get(fee_id, "")


def blank(creditable: Mapping[str, int], currency: str) -> CreditNoteForm:
    """The form as first shown: nothing ticked, each amount the fee's whole creditable."""
    return CreditNoteForm(
        amounts={fee: typed_amount(cents, currency) for fee, cents in creditable.items()}
    )


def read(values: FormData, fee_ids: list[str]) -> CreditNoteForm:
    """The submitted form, for the invoice's creditable fees only."""
    return CreditNoteForm(
        reason=values.get("reason").strip(),
        description=values.get("description").strip(),
        ticked={fee for fee in fee_ids if values.get(f"{item_field(fee)}-checked")},
        amounts={fee: values.get(f"{item_field(fee)}-amount").strip() for fee in fee_ids},
        allocation={name: values.get(name).strip() for name in ALLOCATION},
    )


def _cents(text: str, currency: str) -> int:
    """An amount field's minor units; empty is 0. ValueError(code) when not an amount."""
    if not text:
        return 0
    cents = money_cents(text, currency)
    if cents < 0:
        raise ValueError("must_not_be_negative")
    if cents > AMOUNT_CENTS_MAX:
        # The API's bound on any amount: larger would not even be shown.
        raise ValueError("value_is_out_of_range")
    return cents


WORDS = {
    "must_not_be_negative": "This amount cannot be negative.",
    "value_is_invalid": "Type an amount, like 12.50.",
}


def items(form: CreditNoteForm, currency: str) -> tuple[list[ItemInput], FormErrors]:
    """The ticked items as the API's items; an amount of 0 unticks its item (Lago)."""
    errors = FormErrors()
    chosen: list[ItemInput] = []
    for fee_id in sorted(form.ticked, key=list(form.amounts).index):
        try:
            cents = _cents(form.amount(fee_id), currency)
        except ValueError as error:
            errors.by_field[item_field(fee_id)] = WORDS.get(str(error)) or message("", str(error))
            continue
        if cents > 0:
            chosen.append(ItemInput(fee_id=fee_id, amount_cents=cents))
    return chosen, errors


def allocation_cents(form: CreditNoteForm, currency: str) -> tuple[dict[str, int], FormErrors]:
    errors = FormErrors()
    cents: dict[str, int] = {}
    for name in ALLOCATION:
        try:
            cents[name] = _cents(form.allocation.get(name, ""), currency)
        except ValueError as error:
            errors.by_field[name] = WORDS.get(str(error)) or message(name, str(error))
    return cents, errors


def body(form: CreditNoteForm, invoice_id: str, currency: str) -> tuple[dict[str, Any], FormErrors]:
    """The body POST /api/v1/credit_notes accepts (its `credit_note` object)."""
    chosen, errors = items(form, currency)
    split, split_errors = allocation_cents(form, currency)
    errors.by_field.update(split_errors.by_field)
    if not form.reason:
        # Lago's form asks for a reason; the API alone would default to "other".
        errors.by_field["reason"] = "Choose a reason."
    if not chosen and not errors.by_field.keys() & {item_field(f) for f in form.ticked}:
        errors.by_field["items"] = "Tick at least one item to credit."
    return {
        "invoice_id": invoice_id,
        "reason": form.reason,
        "description": form.description or None,
        "items": [{"fee_id": item.fee_id, "amount_cents": item.amount_cents} for item in chosen],
        **{api: split.get(name, 0) for name, api in ALLOCATION.items()},
    }, errors


@dataclass(frozen=True)
class Limits:
    """The figures the messages quote, as the service computed them for the page."""

    currency: str
    creditable: Mapping[str, int]  # fee id -> what the fee may still give back
    paid_left: int  # paid and not refunded yet
    due: int  # still owed
    max_creditable: int  # the whole invoice's creditable total


def refusal_errors(error: MeterbillError, limits: Limits, chosen: list[ItemInput]) -> FormErrors:
    """The service's refusal in words, under the item or allocation field it is about."""
    errors = FormErrors()
    put = errors.by_field.setdefault
    cash = limits.currency
    if not isinstance(error, ValidationFailed):
        if error.code == "fee_not_found":
            put("items", "This item is no longer on the invoice: reload the page.")
        else:
            put("base", message("base", error.code or error.error))
        return errors
    for api_field, codes in error.details.items():
        for code in codes if isinstance(codes, list) else [codes]:
            if api_field == "amount_cents":
                # The service names no item: the message goes under each item above its
                # fee's creditable amount (the figure it checked), else under the items.
                over = [
                    item for item in chosen
                    if item.amount_cents > limits.creditable.get(item.fee_id, 0)
                ]  # fmt: skip
                for item in over:
                    put(
                        item_field(item.fee_id),
                        f"Amount cannot exceed {money(limits.creditable[item.fee_id], cash)}",
                    )
                if not over:
                    put("items", _item_words(code))
            elif api_field == "refund_amount_cents":
                put("refund_amount", _refund_words(code, limits))
            elif api_field == "offset_amount_cents":
                put(
                    "offset_amount",
                    f"Offset cannot exceed the amount due ({money(limits.due, cash)})",
                )
            elif api_field == "credit_amount_cents":
                put("credit_amount", _credit_words(code, limits))
            elif api_field == "reason":
                put("reason", "Choose a reason.")
            elif api_field == "description":
                put("description", message("description", str(code)))
            else:
                put("allocation", _base_words(str(code), limits))
    return errors


def _item_words(code: str) -> str:
    return {
        "higher_than_wallet_balance": "Amount cannot exceed the credits the wallet still holds.",
        "invalid_value": "This amount is not valid.",
    }.get(code, "An amount is above what its item can still give back.")


def _refund_words(code: str, limits: Limits) -> str:
    if code == "cannot_refund_unpaid_invoice":
        return "Nothing was paid on this invoice: there is nothing to refund."
    return f"Refund cannot exceed the amount paid ({money(limits.paid_left, limits.currency)})"


def _credit_words(code: str, limits: Limits) -> str:
    if code == "cannot_credit_invoice":
        return "A wallet top-up can only be refunded."
    return f"Credit cannot exceed {money(limits.max_creditable, limits.currency)}"


def _base_words(code: str, limits: Limits) -> str:
    return {
        "does_not_match_item_amounts": MISMATCH,
        "total_amount_must_be_positive": "The credit note's total must be greater than 0.",
        "higher_than_remaining_invoice_amount": (
            "The credit note cannot exceed what the invoice can still give back "
            f"({money(limits.max_creditable, limits.currency)})."
        ),
    }.get(code, message("base", code))
