"""Members' roles and what each may do: Lago's three predefined roles and its matrix.

An admin may do everything. Finance and manager hold the permissions listed for them
below (Lago's `config/permissions.yml`, the entries meterbill has pages for); a
permission not listed is the admin's alone. Every dashboard route names the permission
it needs (`dashboard.web.requires`), and pages hide what the member may not do.
"""

from __future__ import annotations

ROLES = ("admin", "finance", "manager")
ROLE_LABELS = {"admin": "Admin", "finance": "Finance", "manager": "Manager"}

FINANCE = "finance"
MANAGER = "manager"

# permission → the roles besides admin that hold it.
GRANTS: dict[str, tuple[str, ...]] = {
    "addons:view": (FINANCE, MANAGER),
    "addons:create": (),
    "addons:update": (),
    "addons:delete": (),
    "analytics:view": (FINANCE,),
    "billable_metrics:view": (),
    "billable_metrics:create": (),
    "billable_metrics:update": (),
    "billable_metrics:delete": (),
    "coupons:view": (FINANCE, MANAGER),
    "coupons:create": (),
    "coupons:update": (),
    "coupons:delete": (),
    "coupons:attach": (MANAGER,),
    "coupons:detach": (MANAGER,),
    "credit_notes:view": (FINANCE, MANAGER),
    "credit_notes:create": (FINANCE, MANAGER),
    "credit_notes:update": (FINANCE, MANAGER),
    "credit_notes:void": (FINANCE, MANAGER),
    "customers:view": (FINANCE, MANAGER),
    "customers:create": (MANAGER,),
    "customers:update": (MANAGER,),
    "customers:delete": (MANAGER,),
    "developers:manage": (),
    "developers:keys:manage": (),
    "invoices:view": (FINANCE, MANAGER),
    "invoices:send": (FINANCE, MANAGER),
    "invoices:create": (FINANCE, MANAGER),
    "invoices:update": (FINANCE, MANAGER),
    "invoices:void": (FINANCE, MANAGER),
    "invoices:delete": (),
    "organization:view": (FINANCE,),
    "organization:update": (FINANCE,),
    "organization:integrations:view": (),
    "organization:integrations:create": (),
    "organization:integrations:update": (),
    "organization:integrations:delete": (),
    "organization:invoices:view": (FINANCE,),
    "organization:invoices:update": (FINANCE,),
    "organization:taxes:view": (),
    "organization:taxes:update": (),
    "organization:members:view": (),
    "organization:members:create": (),
    "organization:members:update": (),
    "organization:members:delete": (),
    "payments:view": (FINANCE, MANAGER),
    "payments:create": (FINANCE, MANAGER),
    "plans:view": (FINANCE, MANAGER),
    "plans:create": (),
    "plans:update": (),
    "plans:delete": (),
    "subscriptions:view": (FINANCE, MANAGER),
    "subscriptions:create": (MANAGER,),
    "subscriptions:update": (MANAGER,),
    "wallets:create": (MANAGER,),
    "wallets:update": (MANAGER,),
    "wallets:top_up": (MANAGER,),
    "wallets:terminate": (MANAGER,),
}


def can(role: str, permission: str) -> bool:
    """Whether a member with this role holds the permission. An unknown permission is a
    programming error (a typo would otherwise silently refuse or allow)."""
    holders = GRANTS[permission]
    return role == "admin" or role in holders


def permissions_of(role: str) -> list[str]:
    return [permission for permission in GRANTS if can(role, permission)]
