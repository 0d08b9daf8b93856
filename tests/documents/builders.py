"""A finalized invoice with every charge model, a coupon and a 20 % tax, built through the
services the API calls and billed by the clock; and helpers to read the documents back."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
import zlib
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pypdf import PdfReader
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.customers.models import Customer
from meterbill.invoices.api import render_invoices
from meterbill.invoices.models import Invoice
from meterbill.organizations.models import Organization
from tests.conftest import Org, make_org
from tests.scenarios.billing import Billing, utc

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "documents"
BILLED_AT = utc(2026, 12, 1, 1)


def png_logo() -> str:
    """A small PNG (a dark square with a lighter band), as a data URL."""
    width, height = 48, 48
    rows = b"".join(
        b"\x00"
        + b"".join(
            bytes((40, 90, 200)) if 18 <= y < 30 else bytes((20, 28, 48)) for _x in range(width)
        )
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes((8, 2, 0, 0, 0))
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode()


def describe_issuer(database: Database, org: Org) -> None:
    with database.transaction() as session:
        organization = session.get(Organization, org.id)
        assert organization is not None
        organization.legal_name = "Acme Cloud SAS"
        organization.legal_number = "RCS Paris 123 456 789"
        organization.address_line1 = "12 rue de la Paix"
        organization.city, organization.zipcode, organization.country = "Paris", "75002", "FR"
        organization.email = "billing@acme.test"
        organization.tax_identification_number = "FR12345678901"
        organization.net_payment_term = 30
        organization.logo = png_logo()
        organization.invoice_footer = "Acme Cloud SAS — IBAN FR76 3000 6000 0112 3456 7890 189"


def full_invoice(database: Database, customer_name: str = "Globex Corporation") -> tuple[Org, Any]:
    """Every charge model on one monthly plan, billed for November 2026."""
    org = make_org(database, "Acme Cloud")
    describe_issuer(database, org)
    billing = Billing(database, org)
    billing.tax("vat", "20", name="VAT", applied_to_organization=True)
    metrics = {
        code: billing.metric(code, aggregation, **fields)
        for code, aggregation, fields in (
            ("api_calls", "count_agg", {}),
            ("tiers", "sum_agg", {"field_name": "n"}),
            ("gp", "sum_agg", {"field_name": "n"}),
            ("pkg", "sum_agg", {"field_name": "n"}),
            ("pct", "sum_agg", {"field_name": "amount"}),
            ("vol", "sum_agg", {"field_name": "n"}),
            (
                "storage",
                "sum_agg",
                {"field_name": "gb", "filters": [{"key": "region", "values": ["us", "eu"]}]},
            ),
            ("seats", "sum_agg", {"field_name": "n"}),
        )
    }
    charges = [
        {
            "billable_metric_id": metrics["api_calls"],
            "charge_model": "standard",
            "invoice_display_name": "API calls",
            "properties": {"amount": "0.05"},
        },
        {
            "billable_metric_id": metrics["tiers"],
            "charge_model": "graduated",
            "invoice_display_name": "Compute hours",
            "properties": {
                "graduated_ranges": [
                    {"from_value": 0, "to_value": 10, "per_unit_amount": "2", "flat_amount": "5"},
                    {
                        "from_value": 11,
                        "to_value": None,
                        "per_unit_amount": "1",
                        "flat_amount": "0",
                    },
                ]
            },
        },
        {
            "billable_metric_id": metrics["gp"],
            "charge_model": "graduated_percentage",
            "invoice_display_name": "Payments volume",
            "properties": {
                "graduated_percentage_ranges": [
                    {"from_value": 0, "to_value": 1000, "rate": "1", "flat_amount": "0"},
                    {"from_value": 1001, "to_value": None, "rate": "0.5", "flat_amount": "2"},
                ]
            },
        },
        {
            "billable_metric_id": metrics["pkg"],
            "charge_model": "package",
            "invoice_display_name": "SMS",
            "properties": {"amount": "3", "package_size": 100, "free_units": 50},
        },
        {
            "billable_metric_id": metrics["pct"],
            "charge_model": "percentage",
            "invoice_display_name": "Card fees",
            "properties": {"rate": "2.5", "fixed_amount": "0.3", "free_units_per_events": 1},
        },
        {
            "billable_metric_id": metrics["vol"],
            "charge_model": "volume",
            "invoice_display_name": "Seats volume",
            "properties": {
                "volume_ranges": [
                    {"from_value": 0, "to_value": 100, "per_unit_amount": "4", "flat_amount": "0"},
                    {
                        "from_value": 101,
                        "to_value": None,
                        "per_unit_amount": "3",
                        "flat_amount": "10",
                    },
                ]
            },
        },
        {
            "billable_metric_id": metrics["storage"],
            "charge_model": "standard",
            "invoice_display_name": "Storage",
            "properties": {"amount": "1"},
            "filters": [
                {
                    "values": {"region": ["us"]},
                    "properties": {"amount": "2"},
                    "invoice_display_name": "US region",
                }
            ],
        },
        {
            "billable_metric_id": metrics["seats"],
            "charge_model": "standard",
            "invoice_display_name": "Team seats",
            "properties": {"amount": "10", "pricing_group_keys": ["team"]},
        },
    ]
    billing.plan("pro", charges, name="Pro", amount_cents=10_000, invoice_display_name=None)
    billing.customer(
        "globex",
        name=customer_name,
        currency="EUR",
        timezone="UTC",
        email="ap@globex.test",
        address_line1="1 Infinite Loop",
        city="Springfield",
        zipcode="97403",
        state="OR",
        country="US",
        legal_number="GLX-42",
        tax_identification_number="US99-1234567",
        metadata=[
            {"key": "PO contact", "value": "Hank Scorpio", "display_in_invoice": True},
            {"key": "internal_score", "value": "secret-7781", "display_in_invoice": False},
            {"key": "Cost center", "value": "CC-1009", "display_in_invoice": True},
        ],
    )
    billing.coupon(
        "welcome",
        coupon_type="fixed_amount",
        amount_cents=1_000,
        amount_currency="EUR",
        frequency="forever",
    )
    billing.apply("globex", "welcome", utc(2026, 11, 1))
    billing.subscribe("globex", "pro", "sub-1", utc(2026, 11, 1))
    day = utc(2026, 11, 10)
    billing.events("sub-1", "api_calls", *[(day, {}) for _ in range(80)])
    billing.events("sub-1", "tiers", (day, {"n": 14}))
    billing.events("sub-1", "gp", (day, {"n": 1500}))
    billing.events("sub-1", "pkg", (day, {"n": 260}))
    billing.events(
        "sub-1", "pct", (day, {"amount": 100}), (day, {"amount": 200}), (day, {"amount": 50})
    )
    billing.events("sub-1", "vol", (day, {"n": 120}))
    billing.events(
        "sub-1", "storage", (day, {"gb": 3, "region": "us"}), (day, {"gb": "1.5", "region": "eu"})
    )
    billing.events(
        "sub-1", "seats", (day, {"n": 2, "team": "red"}), (day, {"n": 1, "team": "blue"})
    )
    billing.tick(BILLED_AT)
    [invoice] = [row for row in billing.invoices() if row.status == "finalized"]
    return org, invoice.id


def two_subscriptions_invoice(database: Database) -> tuple[Org, Any]:
    """One customer, two monthly subscriptions on calendar billing: one invoice for
    November 2026 at the period boundary. One subscription is named, the other shows its
    plan's invoice display name; a coupon and a 20 % tax apply to the whole invoice."""
    org = make_org(database, "Acme Multi")
    describe_issuer(database, org)
    billing = Billing(database, org)
    billing.tax("vat", "20", name="VAT", applied_to_organization=True)
    calls = billing.metric("calls", "count_agg")
    storage = billing.metric("gb", "sum_agg", field_name="gb")
    billing.plan(
        "starter",
        [{"billable_metric_id": calls, "charge_model": "standard",
          "invoice_display_name": "API calls", "properties": {"amount": "0.05"}}],
        name="Starter", amount_cents=2_900, invoice_display_name="Starter plan",
    )  # fmt: skip
    billing.plan(
        "data",
        [{"billable_metric_id": storage, "charge_model": "standard",
          "invoice_display_name": "Storage", "properties": {"amount": "1.25"}}],
        name="Data", amount_cents=4_900,
    )  # fmt: skip
    billing.customer("initrode", name="Initrode", currency="EUR", timezone="UTC")
    billing.coupon(
        "launch",
        coupon_type="fixed_amount",
        amount_cents=500,
        amount_currency="EUR",
        frequency="forever",
    )
    billing.apply("initrode", "launch", utc(2026, 11, 1))
    billing.subscribe("initrode", "starter", "multi-1", utc(2026, 11, 1))
    billing.subscribe("initrode", "data", "multi-2", utc(2026, 11, 1), name="Analytics workspace")
    day = utc(2026, 11, 12)
    billing.events("multi-1", "calls", *[(day, {}) for _ in range(30)])
    billing.events("multi-2", "gb", (day, {"gb": 12}), (day, {"gb": "3.5"}))
    billing.tick(BILLED_AT)
    [invoice] = [row for row in billing.invoices("initrode") if row.status == "finalized"]
    return org, invoice.id


def api_invoice(session: Any, org: Org, invoice: Invoice) -> dict[str, Any]:
    """The invoice as GET /api/v1/invoices/{id} renders it."""
    ctx = SimpleNamespace(organization_id=org.id, now=BILLED_AT)
    return render_invoices(session, [invoice], ctx, full=True)[0]  # type: ignore[arg-type]


def set_locale(session: Any, invoice: Invoice, locale: str | None) -> None:
    customer = session.get(Customer, invoice.customer_id)
    customer.document_locale = locale


def pdf_text(pdf: bytes) -> str:
    text = "\n".join(page.extract_text() or "" for page in PdfReader(BytesIO(pdf)).pages)
    # Babel's narrow and non-breaking spaces read back as plain spaces from some PDFs.
    return text.replace("\u202f", " ").replace("\xa0", " ")


def assert_read_as_xml(html: str) -> None:
    """The document's markup is read by the XML parser, into the tree WeasyPrint's own
    HTML parser builds from it (the PDF is the same either way, only faster)."""
    import tinyhtml5
    import weasyprint

    from meterbill.documents.pdf import prepared
    from meterbill.documents.pdf_tree import xml_tree

    body, _sheets = prepared(weasyprint, html)
    tree = xml_tree(body)
    assert tree is not None, "the template's output is not XML an HTML parser agrees with"
    expected = tinyhtml5.parse(body, namespace_html_elements=False)
    assert _outline(tree) == _outline(expected)


def _outline(element: Any) -> tuple[Any, ...]:
    return (
        element.tag, dict(element.attrib), element.text or "", element.tail or "",
        [_outline(child) for child in element],
    )  # fmt: skip


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def save_png(pdf: bytes, name: str) -> Path:
    """Page 1 at 60 dpi into test-output/documents/, for a person to look at."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    source = OUTPUT / f"{name}.pdf"
    source.write_bytes(pdf)
    if shutil.which("pdftoppm") is None:
        # poppler-utils absent: the PDF is kept, the picture of it is not made.
        return source
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(source),
            str(OUTPUT / name),
        ],
        check=True,
    )
    return OUTPUT / f"{name}.png"


def find_invoice(session: Any, invoice_id: Any) -> Invoice:
    key = invoice_id if isinstance(invoice_id, uuid.UUID) else uuid.UUID(str(invoice_id))
    return session.scalars(select(Invoice).where(Invoice.id == key)).one()
