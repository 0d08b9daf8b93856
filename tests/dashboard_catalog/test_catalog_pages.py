"""Billable metrics, coupons, add-ons and taxes from the dashboard: each form saves what
the API then returns, refusals come back in words with nothing written, lists search and
count in one query, Delete says what it does, and roles are enforced (both databases)."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

import httpx

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard_catalog.conftest import Web, api, error_under, login_as, text_of


def saved(response: httpx.Response, path: str, flash_text: str) -> None:
    assert response.status_code == 303, text_of(response.text)[:1500]
    assert response.headers["location"] == path
    assert flash_text in unquote(response.headers.get("set-cookie", ""))


def count_of(http: httpx.Client, path: str, key: str) -> int:
    return len(api(http, "GET", path)[key])


def row_of(page: str, code: str) -> str:
    """The visible text of the list row showing `code`."""
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    found = [text_of(row) for row in rows if f">{code}<" in row]
    assert found, f"no row for {code}"
    return html.unescape(found[0])


METRIC_FORM = [
    ("name", "Storage"),
    ("code", "storage"),
    ("description", "GB stored"),
    ("aggregation_type", "sum_agg"),
    ("field_name", "gb"),
    ("recurring", "on"),
    ("rounding_function", "ceil"),
    ("rounding_precision", "2"),
    ("expression", ""),
    ("test_properties", ""),
    ("filter_key", "region"),
    ("filter_values", "eu, us"),
    ("filter_key", ""),
    ("filter_values", ""),
]


def test_a_metric_made_by_its_form_is_the_apis(web: Web, http: httpx.Client) -> None:
    response = web.post("/billable-metrics/new", [*METRIC_FORM, ("action", "save")])
    saved(response, "/billable-metrics", "Billable metric “Storage” added")
    metric = api(http, "GET", "/billable_metrics/storage")["billable_metric"]
    assert {key: metric[key] for key in (
        "name", "code", "description", "aggregation_type", "field_name", "recurring",
        "rounding_function", "rounding_precision", "expression", "filters",
    )} == {
        "name": "Storage", "code": "storage", "description": "GB stored",
        "aggregation_type": "sum_agg", "field_name": "gb", "recurring": True,
        "rounding_function": "ceil", "rounding_precision": 2, "expression": None,
        "filters": [{"key": "region", "values": ["eu", "us"]}],
    }  # fmt: skip
    # The edit form shows it back, and saving it unchanged changes nothing.
    edit = web.get(f"/billable-metrics/{metric['lago_id']}/edit").text
    assert 'value="eu, us"' in edit and 'value="region"' in edit
    again = web.post(
        f"/billable-metrics/{metric['lago_id']}/edit",
        [*[(k, "Storage (GB)" if k == "name" else v) for k, v in METRIC_FORM], ("action", "save")],
    )
    saved(again, "/billable-metrics", "Billable metric “Storage (GB)” saved")
    changed = api(http, "GET", "/billable_metrics/storage")["billable_metric"]
    assert (changed["name"], changed["filters"]) == ("Storage (GB)", metric["filters"])


def test_refused_metrics_are_explained_and_nothing_is_written(web: Web, http: httpx.Client) -> None:
    web.post("/billable-metrics/new", [*METRIC_FORM, ("action", "save")])
    duplicate = web.post("/billable-metrics/new", [*METRIC_FORM, ("action", "save")])
    assert duplicate.status_code == 422
    assert error_under(duplicate.text, "code") == "Code already exists, please type a new one."
    assert ">GB stored</textarea>" in duplicate.text  # what was typed is kept
    bad = dict(METRIC_FORM)
    bad.update(code="calls", expression="round(event.properties.duration /", name="Calls")
    refused = web.post("/billable-metrics/new", [*bad.items(), ("action", "save")])
    assert refused.status_code == 422
    assert error_under(refused.text, "expression").startswith("This expression is not valid")
    half = [*METRIC_FORM[:10], ("filter_key", "region"), ("filter_values", " "), ("action", "save")]
    half = [(k, "other" if (k, v) == ("code", "storage") else v) for k, v in half]
    incomplete = web.post("/billable-metrics/new", half)
    assert incomplete.status_code == 422
    assert "Each filter needs a key and at least one value" in html.unescape(incomplete.text)
    assert count_of(http, "/billable_metrics", "billable_metrics") == 1


def test_check_expression_shows_the_services_value(web: Web, http: httpx.Client) -> None:
    form = dict(METRIC_FORM)
    form.update(
        code="minutes",
        expression="round(event.properties.duration / 60)",
        test_properties='{"duration": 125}',
    )
    page = web.post("/billable-metrics/new", [*form.items(), ("action", "check_expression")])
    assert page.status_code == 200
    # 125 / 60 = 2.083… rounded: 2, as the API's own tester says.
    body = {"expression": form["expression"], "event": {"code": "minutes",
            "properties": {"duration": 125}}}  # fmt: skip
    expected = api(http, "POST", "/billable_metrics/evaluate_expression", body)
    assert expected["expression_result"]["value"] == "2"
    assert "Result: 2" in text_of(page.text)
    # Nothing is saved by a check, and the typed values are kept.
    assert count_of(http, "/billable_metrics", "billable_metrics") == 0
    assert "round(event.properties.duration / 60)" in html.unescape(page.text)
    not_json = web.post(
        "/billable-metrics/new",
        [*{**form, "test_properties": "duration=125"}.items(), ("action", "check_expression")],
    )
    assert not_json.status_code == 422
    assert error_under(not_json.text, "test_properties").startswith("Type the properties as JSON")


def test_add_a_filter_row_without_javascript(web: Web) -> None:
    page = web.post("/billable-metrics/new", [*METRIC_FORM, ("action", "add_filter")])
    # The filled row, and three blank ones (two always, one asked for).
    assert page.text.count('name="filter_key"') == 4


def test_a_coupon_made_by_its_form_is_the_apis(web: Web, http: httpx.Client) -> None:
    api(http, "POST", "/plans", {"plan": {"name": "Pro", "code": "pro", "interval": "monthly",
        "amount_cents": 4900, "amount_currency": "EUR"}})  # fmt: skip
    form = [
        ("name", "Startup deal"), ("code", "startup"), ("description", ""),
        ("coupon_type", "fixed_amount"), ("amount", "50.00"), ("amount_currency", "EUR"),
        ("percentage_rate", ""), ("frequency", "recurring"), ("frequency_duration", "3"),
        ("reusable", "on"), ("expiration", "time_limit"), ("expiration_at", "2099-12-31"),
        ("plan_codes", "pro"), ("action", "save"),
    ]  # fmt: skip
    saved(web.post("/coupons/new", form), "/coupons", "Coupon “Startup deal” added")
    coupon = api(http, "GET", "/coupons/startup")["coupon"]
    assert {key: coupon[key] for key in (
        "coupon_type", "amount_cents", "amount_currency", "frequency", "frequency_duration",
        "reusable", "expiration", "expiration_at", "limited_plans", "plan_codes",
    )} == {
        "coupon_type": "fixed_amount", "amount_cents": 5000, "amount_currency": "EUR",
        "frequency": "recurring", "frequency_duration": 3, "reusable": True,
        "expiration": "time_limit", "expiration_at": "2099-12-31T23:59:59Z",
        "limited_plans": True, "plan_codes": ["pro"],
    }  # fmt: skip
    row = row_of(web.get("/coupons").text, "startup")
    assert "€50.00 · 3 months" in row and "Dec 31, 2099" in row and "active" in row


def test_refused_coupons_are_explained(web: Web, http: httpx.Client) -> None:
    base = {
        "name": "Half", "code": "half", "coupon_type": "percentage", "amount": "",
        "amount_currency": "EUR", "percentage_rate": "0", "frequency": "recurring",
        "frequency_duration": "", "expiration": "time_limit", "expiration_at": "2001-01-01",
    }  # fmt: skip
    page = web.post("/coupons/new", [*base.items(), ("action", "save")])
    assert page.status_code == 422
    assert error_under(page.text, "frequency_duration") == "Enter a number of months, 1 or more."
    fixed = {**base, "coupon_type": "fixed_amount", "amount": "12.345", "frequency": "once"}
    page = web.post("/coupons/new", [*fixed.items(), ("action", "save")])
    assert error_under(page.text, "amount") == (
        "This amount has more decimals than the currency allows."
    )
    zero = {**base, "frequency": "once", "expiration": "no_expiration"}
    page = web.post("/coupons/new", [*zero.items(), ("action", "save")])
    assert error_under(page.text, "percentage_rate") == "Enter a rate greater than 0."
    past = {**base, "percentage_rate": "10", "frequency": "once"}
    page = web.post("/coupons/new", [*past.items(), ("action", "save")])
    assert error_under(page.text, "expiration_at") == "The expiration date must be in the future."
    assert count_of(http, "/coupons", "coupons") == 0


def test_coupon_counts_and_delete(web: Web, http: httpx.Client) -> None:
    api(http, "POST", "/coupons", {"coupon": {"name": "Ten", "code": "ten",
        "coupon_type": "percentage", "percentage_rate": "10", "frequency": "forever",
        "expiration": "no_expiration"}})  # fmt: skip
    for customer in ("a", "b"):
        api(http, "POST", "/customers", {"customer": {"external_id": customer}})
        api(http, "POST", "/applied_coupons", {"applied_coupon": {
            "external_customer_id": customer, "coupon_code": "ten"}})  # fmt: skip
    listing = web.get("/coupons").text
    row = row_of(listing, "ten")
    # Discount, customers, expiration, status.
    assert "10% · forever 2 No end date active" in row
    coupon_id = api(http, "GET", "/coupons/ten")["coupon"]["lago_id"]
    confirm = text_of(web.get(f"/coupons/{coupon_id}/delete").text)
    assert "It is applied to 2 customers: those applications are terminated" in html.unescape(
        confirm
    )
    saved(web.post(f"/coupons/{coupon_id}/delete", {}), "/coupons", "Coupon “Ten” deleted")
    assert http.get("/coupons/ten").status_code == 404
    applied = api(http, "GET", "/applied_coupons?status=active")["applied_coupons"]
    assert applied == []


def test_an_add_on_made_by_its_form_is_the_apis(web: Web, http: httpx.Client) -> None:
    api(http, "POST", "/taxes", {"tax": {"name": "VAT", "code": "vat", "rate": "20"}})
    form = [
        ("name", "Setup"), ("code", "setup"), ("invoice_display_name", "Setup fee"),
        ("description", "One-time"), ("amount", "500"), ("amount_currency", "EUR"),
        ("tax_codes", "vat"), ("action", "save"),
    ]  # fmt: skip
    saved(web.post("/add-ons/new", form), "/add-ons", "Add-on “Setup” added")
    add_on = api(http, "GET", "/add_ons/setup")["add_on"]
    taxes = [tax["code"] for tax in add_on["taxes"]]
    shown = (add_on["amount_cents"], add_on["amount_currency"], add_on["invoice_display_name"])
    assert (*shown, taxes) == (50000, "EUR", "Setup fee", ["vat"])
    api(http, "POST", "/customers", {"customer": {"external_id": "c1", "currency": "EUR"}})
    api(http, "POST", "/invoices", {"invoice": {"external_customer_id": "c1", "currency": "EUR",
        "fees": [{"add_on_code": "setup", "units": "1"}]}})  # fmt: skip
    row = row_of(web.get("/add-ons").text, "setup")
    assert "One-time charge of €500.00 1" in row
    missing = web.post("/add-ons/new", [*[(k, "" if k == "amount" else v) for k, v in form]])
    assert missing.status_code == 422
    assert error_under(missing.text, "amount") == "The amount is required."


def test_taxes_rate_rule_edit_and_delete(web: Web, http: httpx.Client) -> None:
    form = {"name": "VAT", "code": "vat", "rate": "101", "description": ""}
    refused = web.post("/settings/taxes/new", [*form.items(), ("action", "save")])
    assert refused.status_code == 422
    assert error_under(refused.text, "rate") == "Tax rate value can not exceed 100%"
    assert count_of(http, "/taxes", "taxes") == 0
    saved(
        web.post("/settings/taxes/new", [*{**form, "rate": "20"}.items(), ("action", "save")]),
        "/settings/taxes",
        "Tax “VAT” added",
    )
    tax = api(http, "GET", "/taxes/vat")["tax"]
    assert (tax["rate"], tax["name"]) == (20.0, "VAT")
    edit = web.get(f"/settings/taxes/{tax['lago_id']}/edit").text
    assert "A changed rate applies to draft and upcoming invoices" in edit
    web.post(f"/settings/taxes/{tax['lago_id']}/edit", {**form, "rate": "19.6", "action": "save"})
    assert api(http, "GET", "/taxes/vat")["tax"]["rate"] == 19.6
    assert "19.6%" in row_of(web.get("/settings/taxes").text, "vat")
    saved(web.post(f"/settings/taxes/{tax['lago_id']}/delete", {}), "/settings/taxes", "deleted")
    assert http.get("/taxes/vat").status_code == 404


def test_lists_search_count_and_page(web: Web, http: httpx.Client) -> None:
    for n in range(22):
        api(http, "POST", "/billable_metrics", {"billable_metric": {"name": f"Metric {n:02}",
            "code": f"m{n:02}", "aggregation_type": "count_agg"}})  # fmt: skip
    m05 = api(http, "GET", "/billable_metrics/m05")["billable_metric"]["lago_id"]
    charge = {"billable_metric_id": m05, "charge_model": "standard", "properties": {"amount": "1"}}
    api(http, "POST", "/plans", {"plan": {"name": "P", "code": "p", "interval": "monthly",
        "amount_cents": 0, "amount_currency": "EUR", "charges": [charge]}})  # fmt: skip
    first = web.get("/billable-metrics").text
    assert "22 billable metrics" in text_of(first) and "Page 1 of 2" in text_of(first)
    second = web.get("/billable-metrics?page=2").text
    assert len(re.findall(r"<tr>", second)) == 1 + 2  # header + the two oldest
    found = web.get("/billable-metrics?search=m05").text
    assert "Count 1" in row_of(found, "m05")  # aggregation, then one plan charges it
    assert len(re.findall(r">m\d\d<", found)) == 1
    # Two characters do not narrow the list (Lago's search box).
    assert "Page 1 of 2" in text_of(web.get("/billable-metrics?search=m0").text)
    empty = web.get("/billable-metrics?search=nothing").text
    assert "No billable metric found" in empty


def test_empty_states(web: Web) -> None:
    for path, title in (("/billable-metrics", "Add your first billable metric"),
                        ("/coupons", "Add your first coupon"),
                        ("/add-ons", "Add your first add-on"),
                        ("/settings/taxes", "Add your first tax")):  # fmt: skip
        assert title in web.get(path).text, path


def test_roles_are_enforced(server: str, database: Database, org: Org, http: httpx.Client) -> None:
    manager = login_as(server, database, org, "manager")
    finance = login_as(server, database, org, "finance")
    try:
        # Managers see coupons and add-ons but may not change the catalogue.
        assert manager.get("/coupons").status_code == 200
        assert "Add a coupon" not in manager.get("/coupons").text
        assert manager.get("/billable-metrics").status_code == 403
        assert manager.get("/coupons/new").status_code == 403
        add_on = {"name": "X", "code": "x", "amount": "1", "amount_currency": "EUR"}
        forged = manager.post("/add-ons/new", {**add_on, "action": "save"})
        assert forged.status_code == 403
        assert count_of(http, "/add_ons", "add_ons") == 0
        # Taxes are the admin's (organization:taxes).
        assert finance.get("/settings/taxes").status_code == 403
        assert finance.post("/settings/taxes/new", {"name": "T", "code": "t", "rate": "1"}
                            ).status_code == 403  # fmt: skip
    finally:
        manager.client.close()
        finance.client.close()


def test_another_organizations_record_is_not_found(
    web: Web, database: Database, http: httpx.Client
) -> None:
    from tests.conftest import make_org

    other = make_org(database, "Other")
    with httpx.Client(
        base_url=http.base_url, headers={"Authorization": f"Bearer {other.api_key}"}
    ) as theirs:
        metric = api(theirs, "POST", "/billable_metrics", {"billable_metric": {
            "name": "Theirs", "code": "theirs", "aggregation_type": "count_agg"}})  # fmt: skip
    lago_id = metric["billable_metric"]["lago_id"]
    assert web.get(f"/billable-metrics/{lago_id}/edit").status_code == 404
    assert web.post(f"/billable-metrics/{lago_id}/delete", {}).status_code == 404
    assert web.get("/billable-metrics/not-an-id/edit").status_code == 404


def test_a_terminated_coupon_stays_with_its_customers_but_cannot_be_applied(
    web: Web, http: httpx.Client
) -> None:
    api(http, "POST", "/coupons", {"coupon": {"name": "Ten", "code": "ten",
        "coupon_type": "percentage", "percentage_rate": "10", "frequency": "forever",
        "expiration": "no_expiration"}})  # fmt: skip
    for customer in ("a", "b"):
        api(http, "POST", "/customers", {"customer": {"external_id": customer}})
    applied = {"external_customer_id": "a", "coupon_code": "ten"}
    api(http, "POST", "/applied_coupons", {"applied_coupon": applied})
    coupon_id = api(http, "GET", "/coupons/ten")["coupon"]["lago_id"]
    assert f"/coupons/{coupon_id}/terminate" in web.get("/coupons").text
    confirm = text_of(web.get(f"/coupons/{coupon_id}/terminate").text)
    assert "The customer who has it keeps it until it ends for them." in confirm
    saved(web.post(f"/coupons/{coupon_id}/terminate", {}), "/coupons", "Coupon “Ten” terminated")
    coupon = api(http, "GET", "/coupons/ten")["coupon"]
    assert coupon["status"] == "terminated" and coupon["terminated_at"] is not None
    still = api(http, "GET", "/applied_coupons?status=active")["applied_coupons"]
    assert [item["external_customer_id"] for item in still] == ["a"]
    refused = http.post(
        "/applied_coupons",
        json={"applied_coupon": {"external_customer_id": "b", "coupon_code": "ten"}},
    )
    assert refused.status_code in (404, 422)
    assert "terminated" in row_of(web.get("/coupons").text, "ten")
    assert f"/coupons/{coupon_id}/terminate" not in web.get("/coupons").text
