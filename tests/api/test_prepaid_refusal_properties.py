"""Random bodies on the wallet, wallet transaction, credit note and payment endpoints:
each is either taken or refused with Lago's error envelope, never a 500, and a refusal
writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
junk = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner)
)
amounts = st.integers(min_value=-10, max_value=20_000) | junk
credits = st.sampled_from(["0", "1", "12.5", "-1", "1e400", "abc", "0.001"]) | junk
# Lago's 400 (a missing root) has no code.
ENVELOPE_KEYS = {400: {"status", "error"}, 404: {"status", "error", "code"},
                 403: {"status", "error", "code"}, 405: {"status", "error", "code"},
                 422: {"status", "error", "code", "error_details"}}  # fmt: skip


@pytest.fixture
def ids(http: httpx.Client) -> dict[str, str]:
    """A customer, an active wallet, and a finalized one-off invoice of 10 000 with its fee."""
    http.post("/customers", json={"customer": {"external_id": "cus", "currency": "EUR"}})
    add_on = {"name": "Setup", "code": "setup", "amount_cents": 10_000, "amount_currency": "EUR"}
    http.post("/add_ons", json={"add_on": add_on})
    invoice = http.post("/invoices", json={"invoice": {
        "external_customer_id": "cus", "currency": "EUR",
        "fees": [{"add_on_code": "setup", "units": 1}]}}).json()["invoice"]  # fmt: skip
    wallet = http.post("/wallets", json={"wallet": {
        "external_customer_id": "cus", "rate_amount": "1", "currency": "EUR",
        "code": "main"}}).json()["wallet"]  # fmt: skip
    return {"invoice": invoice["lago_id"], "fee": invoice["fees"][0]["lago_id"],
            "wallet": wallet["lago_id"]}  # fmt: skip


def known(ids: dict[str, str], key: str) -> st.SearchStrategy[Any]:
    return st.just(ids[key]) | st.sampled_from(["", "nope", "00000000-0000-0000-0000-000000000000"])


def bodies(ids: dict[str, str]) -> st.SearchStrategy[tuple[str, str, Any]]:
    items = st.lists(
        st.fixed_dictionaries({}, optional={"fee_id": known(ids, "fee"), "amount_cents": amounts})
        | junk, max_size=2)  # fmt: skip
    wallet_fields = st.fixed_dictionaries({}, optional={
        "external_customer_id": st.sampled_from(["cus", "nobody"]) | junk,
        "rate_amount": credits, "currency": st.sampled_from(["EUR", "USD", "eur"]) | junk,
        "paid_credits": credits, "granted_credits": credits, "name": junk, "code": junk,
        "priority": amounts, "expiration_at": st.sampled_from(["2020-01-01T00:00:00Z", "x"]) | junk,
        "applies_to": junk, "recurring_transaction_rules": junk, "metadata": junk,
    })  # fmt: skip
    return st.one_of(
        st.tuples(st.just("POST"), st.just("/wallets"),
                  st.fixed_dictionaries({"wallet": wallet_fields})),
        st.tuples(st.just("PUT"), st.just(f"/wallets/{ids['wallet']}"),
                  st.fixed_dictionaries({"wallet": wallet_fields}) | junk),
        st.tuples(st.just("POST"), st.just("/wallet_transactions"), st.fixed_dictionaries(
            {"wallet_transaction": st.fixed_dictionaries({}, optional={
                "wallet_id": known(ids, "wallet"), "paid_credits": credits,
                "granted_credits": credits, "voided_credits": credits, "metadata": junk})})
            | junk),
        st.tuples(st.just("POST"), st.sampled_from(["/credit_notes", "/credit_notes/estimate"]),
                  st.fixed_dictionaries({"credit_note": st.fixed_dictionaries({}, optional={
                      "invoice_id": known(ids, "invoice"), "items": items | junk,
                      "reason": st.sampled_from(["other", "bogus"]) | junk,
                      "credit_amount_cents": amounts, "refund_amount_cents": amounts,
                      "offset_amount_cents": amounts, "metadata": junk})})),
        st.tuples(st.just("POST"), st.just("/payments"), st.fixed_dictionaries(
            {"payment": st.fixed_dictionaries({}, optional={
                "invoice_id": known(ids, "invoice"), "amount_cents": amounts,
                "reference": st.text(max_size=50) | junk,
                "paid_at": st.sampled_from(["2026-01-01", "2026-13-01", "x"]) | junk})}) | junk),
        st.tuples(st.sampled_from(["POST", "PATCH"]), st.just(f"/wallets/{ids['wallet']}/metadata"),
                  st.fixed_dictionaries({"metadata": junk}) | junk),
    )  # fmt: skip


def counts(http: httpx.Client, ids: dict[str, str]) -> tuple[Any, ...]:
    wallet = http.get(f"/wallets/{ids['wallet']}").json()["wallet"]
    transactions = http.get(f"/wallets/{ids['wallet']}/wallet_transactions").json()
    return (
        len(http.get("/wallets", params={"external_customer_id": "cus"}).json()["wallets"]),
        {key: wallet.get(key) for key in ("name", "priority", "metadata", "balance_cents")},
        transactions["meta"]["total_count"],
        http.get("/credit_notes").json()["meta"]["total_count"],
        http.get("/payments").json()["meta"]["total_count"],
        http.get(f"/invoices/{ids['invoice']}").json()["invoice"]["total_paid_amount_cents"],
    )


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_taken_or_refused_with_the_envelope_and_nothing_written(
    http: httpx.Client, ids: dict[str, str], data: st.DataObject
) -> None:
    method, path, body = data.draw(bodies(ids))
    before = counts(http, ids)
    response = http.request(method, path, json=body)
    event(f"{method} {path.split('/')[1]} -> {response.status_code}")
    assert response.status_code in (200, 400, 403, 404, 405, 422), (path, body, response.text)
    if response.status_code != 200:
        assert set(response.json()) == ENVELOPE_KEYS[response.status_code], response.text
        assert counts(http, ids) == before, (path, body)
