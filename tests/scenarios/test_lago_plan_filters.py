"""Charge filters through edits of the metric and the plan, as Lago's scenario specs
plans/create_and_update_filters_spec.rb and charge_models/edit_with_filter_spec.rb have
them.

A sum metric on `value` with filters steps, image_size (with a typo, 512x152) and
model_name; a plan of 100 EUR whose charge (0) has four filters. Fixing the typo in the
metric trims the charge filters that named it; the plan is then updated with five
filters, and events are priced by the most specific one they match.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.metrics.schemas import parse_metric
from meterbill.metrics.service import update_metric
from meterbill.plans.models import Charge, ChargeFilter, Plan
from meterbill.plans.schemas import ALL_FILTER_VALUES, parse_plan
from meterbill.plans.service import update_plan
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

ALL = [ALL_FILTER_VALUES]
STEPS = {"key": "steps", "values": ["0-25", "26-50", "51-100"]}
MODELS = {"key": "model_name", "values": ["llama-1", "llama-2", "llama-3"]}


def named(name: str, amount: str, **values: list[str]) -> dict[str, Any]:
    return {"invoice_display_name": name, "properties": {"amount": amount}, "values": values}


def charge_filters(billing: Billing) -> dict[str, dict[str, list[str]]]:
    with billing.database.transaction(write=False) as session:
        found = session.scalars(
            select(ChargeFilter)
            .join(Charge, Charge.id == ChargeFilter.charge_id)
            .join(Plan, Plan.id == Charge.plan_id)
            .where(Plan.organization_id == billing.org.id, ChargeFilter.deleted_at.is_(None))
        ).all()
        return {item.invoice_display_name or "": item.values for item in found}


def the_charge_id(billing: Billing) -> str:
    with billing.database.transaction(write=False) as session:
        query = (
            select(Charge.id)
            .join(Plan, Plan.id == Charge.plan_id)
            .where(Plan.organization_id == billing.org.id, Charge.deleted_at.is_(None))
        )
        return str(session.scalars(query).one())


def edit_plan(billing: Billing, charge: dict[str, Any]) -> None:
    body = {"name": "Filtered Plan", "amount_cents": 10_000, "charges": [charge]}
    with billing.database.transaction() as session:
        update_plan(session, billing.org.id, "p", parse_plan(body, creating=False),
                    utc(2024, 3, 27, 16))  # fmt: skip


def test_filters_follow_the_metric_and_the_plan(database: Database, org: Org) -> None:
    billing = Billing(database, org)
    metric_id = billing.metric("m", "sum_agg", field_name="value", filters=[
        STEPS, {"key": "image_size", "values": ["1024x1024", "512x152"]}, MODELS])  # fmt: skip
    billing.plan("p", [{"billable_metric_id": metric_id, "charge_model": "standard",
                        "properties": {"amount": "0"}, "filters": [
        named("f1", "10", image_size=["512x152"], steps=["0-25"], model_name=["llama-2"]),
        named("f2", "5", image_size=["512x152"], steps=["0-25"]),
        named("f3", "5", image_size=ALL, steps=ALL),
        named("f4", "2.5", image_size=ALL),
    ]}], amount_cents=10_000)  # fmt: skip
    assert len(charge_filters(billing)) == 4

    body = {"filters": [{"key": "image_size", "values": ["1024x1024", "512x512"]}, STEPS,
                        MODELS]}  # fmt: skip
    with billing.database.transaction() as session:
        update_metric(session, billing.org.id, "m", parse_metric(body, creating=False),
                      utc(2024, 3, 27, 14))  # fmt: skip
    # 512x152 is gone: the filters that named only it lose the key; "any value" stays.
    assert {name: sorted(values) for name, values in charge_filters(billing).items()} == {
        "f1": ["model_name", "steps"], "f2": ["steps"], "f3": ["image_size", "steps"],
        "f4": ["image_size"]}  # fmt: skip

    edit_plan(billing, {"id": the_charge_id(billing), "billable_metric_id": metric_id,
                        "charge_model": "standard", "properties": {"amount": "0"}, "filters": [
        named("f2", "5", image_size=["512x512"], steps=["0-25"]),
        named("f3", "5", image_size=ALL, steps=ALL),
        named("f4", "2.5", image_size=ALL),
        named("f1", "10", image_size=["512x512"], steps=["0-25"], model_name=["llama-2"]),
        named("f5", "1", image_size=["1024x1024"]),
    ]})  # fmt: skip
    assert len(charge_filters(billing)) == 5

    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2024, 3, 28, 12), billing_time="anniversary")
    billing.events(
        "sub", "m",
        # f1 needs model_name; f2 is the most specific match left.
        (utc(2024, 3, 29, 12), {"value": 10, "image_size": "512x512", "steps": "0-25",
                                "model": "llama-3"}),
        # No filter key at all: the charge's own price, 0.
        (utc(2024, 3, 29, 12), {"value": 10, "image": "512x512", "step": "0-25",
                                "model": "llama-3"}),
    )  # fmt: skip
    usage = billing.usage("cus", "sub", utc(2024, 3, 29, 13))
    assert usage["total_amount_cents"] == 5_000
    [charge] = usage["charges_usage"]
    found = {f["invoice_display_name"]: (f["units"], f["events_count"], f["amount_cents"])
             for f in charge["filters"]}  # fmt: skip
    assert found == {"f1": ("0.0", 0, 0), "f2": ("10.0", 1, 5_000), "f3": ("0.0", 0, 0),
                     "f4": ("0.0", 0, 0), "f5": ("0.0", 0, 0), None: ("10.0", 1, 0)}  # fmt: skip


def test_the_charge_model_changes_with_its_filter(database: Database, org: Org) -> None:
    billing = Billing(database, org)
    clouds = [{"key": "cloud", "values": ["aws", "gcp", "azure"]}]
    metric_id = billing.metric("m", "sum_agg", field_name="value", filters=clouds)
    billing.plan("p", [{"billable_metric_id": metric_id, "charge_model": "standard",
                        "properties": {"amount": "1"},
                        "filters": [named("aws", "100", cloud=["aws"])]}],
                 amount_cents=1_000)  # fmt: skip

    def ranges(low: str, high: str) -> dict[str, Any]:
        return {
            "graduated_ranges": [
                {"from_value": 0, "to_value": 100, "per_unit_amount": low, "flat_amount": "0"},
                {"from_value": 101, "to_value": None, "per_unit_amount": high, "flat_amount": "0"},
            ]
        }

    edit_plan(billing, {"id": the_charge_id(billing), "billable_metric_id": metric_id,
                        "charge_model": "graduated", "properties": ranges("10", "20"),
                        "filters": [{"invoice_display_name": "aws", "values": {"cloud": ["aws"]},
                                     "properties": ranges("12", "22")}]})  # fmt: skip
    with billing.database.transaction(write=False) as session:
        charge = session.get(Charge, uuid.UUID(the_charge_id(billing)))
        assert charge is not None
        assert charge.charge_model == "graduated"
        [charge_filter] = [item for item in charge.filters if item.deleted_at is None]
        assert charge_filter.properties["graduated_ranges"] == ranges("12", "22")[
            "graduated_ranges"]  # fmt: skip
