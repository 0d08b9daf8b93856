"""No value in any input of the plan form, no forged button and no preview count gives
a 500: the form comes back (200 or 422) or the plan is saved (303)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.dashboard_plans.conftest import Web, api, metric

HOSTILE_VALUES = [
    "x" * 100_000,
    "\x00",
    "9" * 5_000,
    "99999999999999999999999999",
    "-1",
    "1e999999",
    "1.5",
    "NaN",
    "<script>alert(1)</script>",
    "",
]


def _form(calls: str, storage: str) -> dict[str, str]:
    return {
        "name": "Scale", "code": f"p_{uuid.uuid4().hex[:10]}", "interval": "monthly",
        "amount_currency": "EUR", "amount": "49", "trial_period": "", "commitment_amount": "",
        "tax_codes": "", "c0.billable_metric_id": calls, "c0.charge_model": "graduated",
        "c0.shown_model": "graduated", "c0.t0.from_value": "0", "c0.t0.to_value": "10",
        "c0.t0.price": "1", "c0.t0.flat_amount": "0", "c0.t1.from_value": "11",
        "c0.t1.to_value": "", "c0.t1.price": "0.5", "c0.t1.flat_amount": "0",
        "c0.min_amount": "", "c0.grouped_by": "", "c0.invoiceable": "on",
        "c1.billable_metric_id": storage, "c1.charge_model": "package",
        "c1.shown_model": "package", "c1.amount": "5", "c1.package_size": "100",
        "c1.free_units": "10", "c1.invoiceable": "on", "c1.f0.shown": "1",
        "c1.f0.key.region": "eu", "c1.f0.amount": "4", "c1.f0.package_size": "100",
        "c1.f0.free_units": "0",
    }  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=range(len(HOSTILE_VALUES)))
def test_any_value_in_any_input_is_a_page_not_a_500(
    web: Web, http: httpx.Client, value: str
) -> None:
    calls = metric(http, f"calls_{uuid.uuid4().hex[:6]}")
    storage = metric(http, f"storage_{uuid.uuid4().hex[:6]}", "sum_agg", field_name="gb",
                     filters=[{"key": "region", "values": ["eu", "us"]}])  # fmt: skip
    valid = _form(calls, storage)
    assert web.post("/plans/new", {**valid, "action": "save"}).status_code == 303
    plan_id = api(http, "GET", f"/plans/{valid['code']}")["plan"]["lago_id"]
    for name in [*valid, "c0.t9.from_value", "c7.billable_metric_id", "c1.f0.key.bogus",
                 "c0.id", "c9999999.billable_metric_id"]:  # fmt: skip
        body = {**_form(calls, storage), name: value, "action": "save"}
        response = web.post("/plans/new", body)
        assert response.status_code in (303, 422), (name, response.status_code)
        body["code"] = valid["code"]
        response = web.post(f"/plans/{plan_id}/edit", body)
        assert response.status_code in (303, 422), (name, response.status_code)
    for action in ("add_tier:" + value, "remove_tier:c0:" + value, "remove_charge:" + value,
                   "add_filter:" + value, "remove_filter:1:" + value, value):  # fmt: skip
        body = {**_form(calls, storage), "action": action}
        response = web.post("/plans/new", body)
        assert response.status_code in (200, 303, 422), (action, response.status_code)
    assert web.get(f"/plans/{plan_id}", params={"units": value[:2_000]}).status_code in (200, 400)
    assert web.get(
        "/plans", params={"search": value[:2_000], "page": value[:2_000]}
    ).status_code in (200, 400, 422)
