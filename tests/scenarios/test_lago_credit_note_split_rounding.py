"""Lago's scenario spec credit_notes/credit_note_spec.rb, "when four items are refunded
separately, some whole, some in parts" and "when creating credit note with small items and
applied coupons": taxes rounded note by note, and the note that takes what the invoice has
left giving back exactly the cents the earlier ones rounded. Through the API.

Lago stores coupon shares with 5 decimals, meterbill with 15: precise taxes agree to 4.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, InvoiceRow, utc
from tests.scenarios.credit_notes import record_payment
from tests.scenarios.test_lago_credit_notes import (
    estimate,
    fee_ids_in_order,
    fee_rows,
    refund,
    subscribe_back_dated,
)


def shown(found: dict[str, Any]) -> tuple[int, Decimal, int, int, int]:
    return (found["taxes_amount_cents"],
            Decimal(found["precise_taxes_amount_cents"]).quantize(Decimal("0.0001")),
            found["sub_total_excluding_taxes_amount_cents"], found["max_creditable_amount_cents"],
            found["max_refundable_amount_cents"])  # fmt: skip


def note_figures(note: dict[str, Any]) -> tuple[int, int, int, int, int]:
    return (note["sub_total_excluding_taxes_amount_cents"], note["taxes_amount_cents"],
            note["credit_amount_cents"], note["refund_amount_cents"],
            note["total_amount_cents"])  # fmt: skip


def test_four_items_refunded_whole_and_in_parts(
    database: Database, org: Org, http: httpx.Client
) -> None:
    billing = Billing(database, org)
    billing.tax("vat", "20")
    billing.customer("cus", timezone="UTC", currency="EUR")
    codes = ["a", "b", "c", "d"]
    for code in codes:
        response = http.post("/add_ons", json={"add_on": {"name": code, "code": code,
                                                          "amount_cents": 68_33,
                                                          "amount_currency": "EUR"}})  # fmt: skip
        assert response.status_code == 200, response.text
    response = http.post("/invoices", json={"invoice": {
        "external_customer_id": "cus", "currency": "EUR",
        "fees": [{"add_on_code": code, "tax_codes": ["vat"]} for code in codes]}})  # fmt: skip
    assert response.status_code == 200, response.text
    [invoice] = billing.invoices()
    # 273.32 + 20 % (54.664): 54.66 of taxes, 327.98 in all.
    assert (invoice.total_amount_cents, invoice.taxes_amount_cents) == (327_98, 54_66)
    fees = fee_ids_in_order(billing, invoice)
    record_payment(billing, invoice.id, 300_00)

    # Three fees refunded whole: 13.666 of taxes rounded up, 82.00 each.
    for fee in fees[:3]:
        found = estimate(http, invoice, [(fee, 68_33)])
        assert shown(found) == (13_67, Decimal("1366.6"), 68_33, 82_00, 82_00)
        assert found["taxes_rate"] == 20
        note = refund(http, invoice, fee, 68_33, 82_00)
        assert note_figures(note) == (68_33, 13_67, 0, 82_00, 82_00)

    # The last fee in three parts: 2.734 rounded down, 4.466 up...
    found = estimate(http, invoice, [(fees[3], 13_67)])
    assert shown(found) == (2_73, Decimal("273.4"), 13_67, 16_40, 16_40)
    assert note_figures(refund(http, invoice, fees[3], 13_67, 16_40)) == (
        13_67, 2_73, 0, 16_40, 16_40)  # fmt: skip
    found = estimate(http, invoice, [(fees[3], 22_33)])
    assert shown(found) == (4_47, Decimal("446.6"), 22_33, 26_80, 26_80)
    assert note_figures(refund(http, invoice, fees[3], 22_33, 26_80)) == (
        22_33, 4_47, 0, 26_80, 26_80)  # fmt: skip
    # ...and the rest gives back the 1.2 cents the notes rounded up: 6.466 - 0.012.
    found = estimate(http, invoice, [(fees[3], 32_33)])
    # Only 10.80 of the 300.00 paid is left to refund.
    assert shown(found) == (6_45, Decimal("645.4"), 32_33, 38_78, 10_80)
    record_payment(billing, invoice.id, 27_98)
    assert note_figures(refund(http, invoice, fees[3], 32_33, 38_78)) == (
        32_33, 6_45, 0, 38_78, 38_78)  # fmt: skip
    # All the notes together give back the invoice: 3 x 82.00 + 16.40 + 26.80 + 38.78.
    assert 3 * 82_00 + 16_40 + 26_80 + 38_78 == 327_98


def credit(http: httpx.Client, invoice: InvoiceRow, fee: Any, amount: int, credit: int) -> Any:
    body = {"invoice_id": str(invoice.id), "reason": "other", "credit_amount_cents": credit,
            "items": [{"fee_id": str(fee), "amount_cents": amount}]}  # fmt: skip
    response = http.post("/credit_notes", json={"credit_note": body})
    assert response.status_code == 200, response.text
    return response.json()["credit_note"]


def test_small_items_with_a_coupon(database: Database, org: Org, http: httpx.Client) -> None:
    billing = Billing(database, org)
    billing.tax("vat", "20", applied_to_organization=True)
    charges = [{"billable_metric_id": billing.metric(f"m{n}"), "charge_model": "standard",
                "properties": {"amount": "10"}, "min_amount_cents": minimum}
               for n, minimum in enumerate([68_33, 200_33])]  # fmt: skip
    billing.plan("p", charges, amount_cents=19_99)
    billing.customer("cus", timezone="UTC")
    subscribe_back_dated(billing, "p", "cus_1", utc(2023, 8, 29))
    billing.coupon("ten", coupon_type="fixed_amount", amount_cents=10_00, amount_currency="EUR",
                   frequency="forever", reusable=True)  # fmt: skip
    billing.apply("cus", "ten", utc(2023, 8, 29), amount_cents=10_00)
    billing.tick(utc(2023, 10, 19))
    invoice = billing.invoices()[-1]
    # 19.99 + 68.33 + 200.33 = 288.65, less 10.00: 278.65, + 20 % (55.73).
    assert invoice.total_amount_cents == 334_38
    fees = {amount: fee for amount, fee in fee_rows(billing, invoice) if amount}
    # The plan's fee: 0.6925 of the coupon, 385.9493 of taxes rounded up.
    found = estimate(http, invoice, [(fees[19_99], 19_99)])
    assert shown(found)[:4] == (3_86, Decimal("385.9493"), 19_30, 23_16)
    assert found["coupons_adjustment_amount_cents"] == 69
    note = credit(http, invoice, fees[19_99], 19_99, 23_16)
    assert note_figures(note) == (19_30, 3_86, 23_16, 0, 23_16)
    # 65.9628 + 13.1926 = 79.1553: 79.16 rounded whole, shown 79.15 as Lago's estimate
    # does (sub-total 65.96 + taxes 13.19).
    found = estimate(http, invoice, [(fees[68_33], 68_33)])
    assert shown(found)[:4] == (13_19, Decimal("1319.2555"), 65_96, 79_15)
    assert found["coupons_adjustment_amount_cents"] == 2_37
    note = credit(http, invoice, fees[68_33], 68_33, 79_15)
    assert note_figures(note) == (65_96, 13_19, 79_15, 0, 79_15)
    # The rest: 3867.7952 of taxes and the 0.2048 cents the notes rounded down, 38.68.
    found = estimate(http, invoice, [(fees[200_33], 200_33)])
    assert shown(found)[:4] == (38_68, Decimal("3868.0000"), 193_39, 232_07)
    assert found["coupons_adjustment_amount_cents"] == 6_94
    note = credit(http, invoice, fees[200_33], 200_33, 232_07)
    assert note_figures(note) == (193_39, 38_68, 232_07, 0, 232_07)
    assert 23_16 + 79_15 + 232_07 == 334_38
