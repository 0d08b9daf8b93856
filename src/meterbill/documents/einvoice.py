from __future__ import annotations

from typing import Any


def applies(organization: Any) -> bool:
    return organization.country in ("FR", "DE")
