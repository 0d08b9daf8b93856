"""Small pure helpers of the usage service."""

from __future__ import annotations

from meterbill.plans.models import Charge
from meterbill.usage.service import group_keys_of


def test_group_keys_come_from_either_name() -> None:
    assert group_keys_of(Charge(properties={"pricing_group_keys": ["a"]})) == ["a"]
    assert group_keys_of(Charge(properties={"grouped_by": ["b"]})) == ["b"]
    assert group_keys_of(Charge(properties={"amount": "1"})) == []
