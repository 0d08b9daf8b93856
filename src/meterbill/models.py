"""Every table, imported in one place for Alembic and for the test schema."""

from meterbill.core.db import Base
from meterbill.customers.models import Customer, CustomerMetadata
from meterbill.organizations.models import ApiKey, Organization
from meterbill.taxes.models import CustomerTax, Tax

__all__ = ["ApiKey", "Base", "Customer", "CustomerMetadata", "CustomerTax", "Organization", "Tax"]
