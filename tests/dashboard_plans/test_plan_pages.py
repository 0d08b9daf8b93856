"""The plans list, a plan's page with its price preview, Delete, and who may do what,
over HTTP on both databases. Figures are computed by hand in the comments."""

from __future__ import annotations

import html
import re

import httpx
from sqlalchemy import event

from meterbill.core.db import Database
from tests.dashboard_plans.conftest import Json, Web, api, metric, text_of


def table_rows(page: str, marker: str) -> list[list[str]]:
    """The body rows of the first table after `marker`, as the texts of their cells."""
    table = page.split(marker, 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [
            html.unescape(text_of(cell))
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    ]


def make_plan(http: httpx.Client, code: str, name: str | None = None, **fields: object) -> Json:
    body = {"name": name or code.title(), "code": code, "interval": "monthly",
            "amount_cents": 4_900, "amount_currency": "EUR", **fields}  # fmt: skip
    return api(http, "POST", "/plans", {"plan": body})["plan"]


def subscribe(http: httpx.Client, customer: str, plan_code: str, external_id: str,
              **fields: object) -> None:  # fmt: skip
    api(http, "POST", "/customers", {"customer": {"external_id": customer, "name": customer}})
    body = {"external_customer_id": customer, "plan_code": plan_code, "external_id": external_id}
    api(http, "POST", "/subscriptions", {"subscription": {**body, **fields}})


def scale_plan(http: httpx.Client) -> Json:
    """A graduated charge (0–10 at 1.00, 11 and more at 0.50) and a package charge (5.00
    per 100 units, 10 free), on a 49.00 base."""
    calls = metric(http, "calls")
    storage = metric(http, "storage", "sum_agg", field_name="gb")
    return make_plan(http, "scale", "Scale", charges=[
        {"billable_metric_id": calls, "charge_model": "graduated", "properties": {
            "graduated_ranges": [
                {"from_value": 0, "to_value": 10, "per_unit_amount": "1.00", "flat_amount": "0"},
                {"from_value": 11, "to_value": None, "per_unit_amount": "0.50",
                 "flat_amount": "0"}]}},
        {"billable_metric_id": storage, "charge_model": "package",
         "properties": {"amount": "5", "package_size": 100, "free_units": 10}},
    ])  # fmt: skip


def test_the_list_counts_active_subscriptions_and_charges(web: Web, http: httpx.Client) -> None:
    scale_plan(http)
    make_plan(http, "hobby", "Hobby")
    subscribe(http, "acme", "scale", "sub-1")
    subscribe(http, "globex", "scale", "sub-2")
    subscribe(http, "initech", "scale", "sub-3")
    api(http, "DELETE", "/subscriptions/sub-3")  # terminated: not counted
    subscribe(http, "hooli", "scale", "sub-4", subscription_at="2099-01-01T00:00:00Z")  # pending
    page = web.get("/plans")
    assert page.status_code == 200
    rows = table_rows(page.text, 'caption class="visually-hidden">Plans')
    assert [row[:4] for row in rows] == [
        ["Hobby hobby", "Monthly", "0", "0"],
        ["Scale scale", "Monthly", "2", "2"],
    ]
    assert "Add a plan" in page.text


def test_the_list_is_searched_and_paginated_in_the_url(web: Web, http: httpx.Client) -> None:
    for index in range(21):
        make_plan(http, f"plan_{index:02d}", f"Plan {index:02d}")
    make_plan(http, "enterprise", "Enterprise")
    first = web.get("/plans")
    assert "1–20 of 22 plans" in text_of(first.text)
    assert 'href="/plans?page=2"' in first.text
    second = text_of(web.get("/plans?page=2").text)
    assert "21–22 of 22 plans" in second
    assert "Plan 00" in second and "Plan 01" in second
    found = web.get("/plans?search=ENTER")
    assert [row[0] for row in table_rows(found.text, "<caption")] == ["Enterprise enterprise"]
    # Fewer than three characters do not narrow the list.
    assert "1–20 of 22 plans" in text_of(web.get("/plans?search=en").text)
    nothing = text_of(web.get("/plans?search=zzz").text)
    assert "No plan found" in nothing
    # htmx swaps only the results.
    partial = web.client.get(
        "/plans?search=enterprise", headers={"HX-Request": "true", "HX-Target": "plans-results"}
    )
    assert partial.text.lstrip().startswith('<div id="plans-results">')


def test_no_plans_yet(web: Web) -> None:
    page = text_of(web.get("/plans").text)
    assert "Add your first plan" in page


def test_the_price_preview(web: Web, http: httpx.Client) -> None:
    plan = scale_plan(http)
    page = web.get(f"/plans/{plan['lago_id']}?units=250")
    assert page.status_code == 200
    rows = table_rows(page.text, 'id="preview-title"')
    # graduated: the first tier holds 10 units at 1.00, the rest at 0.50 (classic tiers
    #   count 11..n as n - 11 + 1 units): 100 -> 10 + 90 × 0.50 = 55.00;
    #   250 -> 10 + 240 × 0.50 = 130.00; 1000 -> 10 + 990 × 0.50 = 505.00.
    # package: units beyond 10 free, by started packages of 100 at 5.00: 10 -> 0;
    #   100 -> 1 package; 250 -> 3; 1000 -> 10 packages = 50.00.
    # total: 49.00 + both.
    assert rows == [
        ["0", "€0.00", "€0.00", "€49.00", "€49.00"],
        ["10", "€10.00", "€0.00", "€49.00", "€59.00"],
        ["100", "€55.00", "€5.00", "€49.00", "€109.00"],
        ["250", "€130.00", "€15.00", "€49.00", "€194.00"],
        ["1,000", "€505.00", "€50.00", "€49.00", "€604.00"],
    ]
    text = html.unescape(text_of(page.text))
    assert "Scale scale" in text or "Scale" in text
    assert "0 – 10 €1.00 €0.00" in text and "11 – ∞ €0.50 €0.00" in text
    assert "€5.00 per package of 100 units, the first 10 units free" in text
    # A count that is no number is ignored.
    again = web.get(f"/plans/{plan['lago_id']}?units=lots")
    assert len(table_rows(again.text, 'id="preview-title"')) == 4


def test_the_preview_adds_a_charge_minimum(web: Web, http: httpx.Client) -> None:
    calls = metric(http, "calls")
    plan = make_plan(http, "metered", amount_cents=0, charges=[
        {"billable_metric_id": calls, "charge_model": "standard",
         "properties": {"amount": "0.10"}, "min_amount_cents": 500}])  # fmt: skip
    rows = table_rows(web.get(f"/plans/{plan['lago_id']}").text, 'id="preview-title"')
    # 10 units × 0.10 = 1.00, topped up by 4.00 to the 5.00 minimum; 100 units = 10.00.
    assert rows[1] == ["10", "€1.00 + €4.00 minimum", "€0.00", "€5.00"]
    assert rows[2] == ["100", "€10.00", "€0.00", "€10.00"]


def test_the_plan_page_counts_its_subscriptions(web: Web, http: httpx.Client) -> None:
    plan = scale_plan(http)
    subscribe(http, "acme", "scale", "sub-1")
    text = text_of(web.get(f"/plans/{plan['lago_id']}").text)
    assert "Active subscriptions 1" in text
    edit = text_of(web.get(f"/plans/{plan['lago_id']}/edit").text)
    assert "1 active subscription uses this plan: changes apply to it" in edit
    assert "Charges 2" in text
    assert web.get("/plans/not-a-plan").status_code == 404


def test_delete_says_what_happens_then_deletes(web: Web, http: httpx.Client) -> None:
    plan = scale_plan(http)
    subscribe(http, "acme", "scale", "sub-1")
    subscribe(http, "globex", "scale", "sub-2")
    subscribe(http, "hooli", "scale", "sub-3", subscription_at="2099-01-01T00:00:00Z")
    dialog = web.get(f"/plans/{plan['lago_id']}/delete")
    assert dialog.status_code == 200
    text = text_of(dialog.text)
    assert "Delete Scale?" in text
    assert "2 active subscriptions terminated and billed for their current period" in text
    assert "1 pending subscription canceled" in text
    assert "0 draft invoices finalized, with the termination invoices." in text
    response = web.post(f"/plans/{plan['lago_id']}/delete", {})
    assert response.status_code == 303 and response.headers["location"] == "/plans"
    assert "Plan successfully deleted" in text_of(web.get("/plans").text)
    assert http.get("/plans/scale").status_code == 404
    statuses = {
        sub["external_id"]: sub["status"]
        for sub in api(http, "GET", "/subscriptions?status[]=terminated&status[]=canceled"
                       "&external_customer_id=acme")["subscriptions"]
    }  # fmt: skip
    assert statuses == {"sub-1": "terminated"}


def test_a_plan_nobody_uses_is_deleted_without_effects(web: Web, http: httpx.Client) -> None:
    plan = make_plan(http, "hobby")
    text = text_of(web.get(f"/plans/{plan['lago_id']}/delete").text)
    assert "No subscription uses this plan: deleting it terminates nothing." in text


def test_a_finance_member_sees_plans_but_cannot_change_them(
    finance: Web, http: httpx.Client
) -> None:
    plan = scale_plan(http)
    listing = finance.get("/plans")
    assert listing.status_code == 200
    assert "Add a plan" not in listing.text
    assert f"/plans/{plan['lago_id']}/edit" not in listing.text
    page = finance.get(f"/plans/{plan['lago_id']}")
    assert page.status_code == 200 and "Edit plan" not in page.text
    assert finance.get("/plans/new").status_code == 403
    assert finance.get(f"/plans/{plan['lago_id']}/edit").status_code == 403
    assert finance.get(f"/plans/{plan['lago_id']}/delete").status_code == 403
    forged = finance.post("/plans/new", {"name": "Forged", "code": "forged", "interval": "monthly",
                                         "amount_currency": "EUR", "amount": "1",
                                         "action": "save"})  # fmt: skip
    assert forged.status_code == 403
    assert finance.post(f"/plans/{plan['lago_id']}/delete", {}).status_code == 403
    assert [p["code"] for p in api(http, "GET", "/plans")["plans"]] == ["scale"]


def test_the_preview_of_volume_and_percentage_charges(web: Web, http: httpx.Client) -> None:
    calls = metric(http, "calls")
    plan = make_plan(http, "mixed", amount_cents=0, charges=[
        {"billable_metric_id": calls, "charge_model": "volume", "properties": {"volume_ranges": [
            {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "10"},
            {"from_value": 101, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"}]}},
        {"billable_metric_id": calls, "charge_model": "percentage",
         "properties": {"rate": "1.5", "fixed_amount": "0.10"}},
    ])  # fmt: skip
    rows = table_rows(web.get(f"/plans/{plan['lago_id']}").text, 'id="preview-title"')
    # volume: the tier holding the total prices every unit, plus its flat fee (the first
    #   tier's for 0 units): 0 -> 10.00; 10 -> 20 + 10; 100 -> 200 + 10; 1000 -> 1000.
    # percentage: 1.5% of the units plus 0.10 per transaction, one per unit:
    #   10 -> 0.15 + 1.00; 100 -> 1.50 + 10.00; 1000 -> 15.00 + 100.00.
    assert rows == [
        ["0", "€10.00", "€0.00", "€0.00", "€10.00"],
        ["10", "€30.00", "€1.15", "€0.00", "€31.15"],
        ["100", "€210.00", "€11.50", "€0.00", "€221.50"],
        ["1,000", "€1,000.00", "€115.00", "€0.00", "€1,115.00"],
    ]


def test_with_htmx_the_editor_answers_with_the_form_and_saving_redirects(
    web: Web, http: httpx.Client
) -> None:
    calls = metric(http, "calls")
    base = {"name": "Scale", "code": "scale", "interval": "monthly", "amount_currency": "EUR",
            "amount": "10", "new_charge_metric": calls}  # fmt: skip
    added = web.post("/plans/new", {**base, "action": "add_charge"}, htmx=True)
    assert added.status_code == 200
    assert 'name="c0.billable_metric_id"' in added.text
    refused = web.post("/plans/new", {**base, "amount": "ten", "action": "save"}, htmx=True)
    assert refused.status_code == 422 and 'id="plan-form"' in refused.text
    saved = web.post("/plans/new", {**base, "action": "save"}, htmx=True)
    plan = api(http, "GET", "/plans/scale")["plan"]
    assert saved.status_code == 200
    assert saved.headers["HX-Redirect"] == f"/plans/{plan['lago_id']}"


def test_the_list_makes_as_many_queries_for_twelve_plans_as_for_two(
    web: Web, http: httpx.Client, database: Database
) -> None:
    """Counts come from one query for the page: no query per row."""
    calls = metric(http, "calls")

    def statements() -> int:
        seen: list[str] = []

        def count(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(database.engine, "before_cursor_execute", count)
        try:
            assert web.get("/plans").status_code == 200
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
        return len(seen)

    charge = {"billable_metric_id": calls, "charge_model": "standard"}
    for index in range(2):
        make_plan(http, f"p{index}", charges=[charge])
    few = statements()
    assert few > 0
    for index in range(2, 12):
        make_plan(http, f"p{index}", charges=[charge, charge])
    assert statements() == few


def test_delete_counts_the_draft_invoices_it_finalizes(web: Web, http: httpx.Client) -> None:
    plan = make_plan(http, "upfront", pay_in_advance=True)
    # A grace period keeps the subscription's first invoice (paid in advance) a draft.
    customer = {"external_id": "acme", "name": "Acme",
                "billing_configuration": {"invoice_grace_period": 3}}  # fmt: skip
    api(http, "POST", "/customers", {"customer": customer})
    subscription = {"external_customer_id": "acme", "plan_code": "upfront", "external_id": "sub-1"}
    api(http, "POST", "/subscriptions", {"subscription": subscription})
    invoices = api(http, "GET", "/invoices?external_customer_id=acme")["invoices"]
    assert [invoice["status"] for invoice in invoices] == ["draft"]
    text = text_of(web.get(f"/plans/{plan['lago_id']}/delete").text)
    assert "1 active subscription terminated and billed for its current period" in text
    assert "1 draft invoice finalized, with the termination invoices." in text
    assert web.post(f"/plans/{plan['lago_id']}/delete", {}).status_code == 303
    invoices = api(http, "GET", "/invoices?external_customer_id=acme")["invoices"]
    assert invoices and {invoice["status"] for invoice in invoices} == {"finalized"}
