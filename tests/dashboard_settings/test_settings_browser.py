"""Settings in a real browser (Chromium), with JavaScript on and off: an admin saves an
invoice setting (and sees the grace period of 366 days refused), invites a finance
member, and the link opened in another browser (a new context: no cookies) lets them
join and see the finance menu. Screenshots under test-output/dashboard/."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard.browser import OUTPUT, open_page, screenshot_name
from tests.dashboard.conftest import PASSWORD, make_user
from tests.dashboard_settings.conftest import organization_as_api

STRONG = "Str0ng&Secret"


def png(width: int, height: int) -> bytes:
    """A real PNG: a blue square with a lighter diagonal band (what a browser can show)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00"
        + b"".join(
            bytes((59, 91, 219)) if abs(x - y) > 8 else bytes((237, 242, 255)) for x in range(width)
        )
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def page(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Any]:
    yield from open_page(chromium, server, request, javascript=request.param)


def log_in(page: Any, email: str) -> None:
    page.goto("/customers")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/customers")


def menu(page: Any) -> list[str]:
    return [
        link.get_attribute("href")
        for link in page.get_by_role("navigation", name="Main menu").get_by_role("link").all()
    ]


def test_invite_a_finance_member_who_joins_from_the_link(
    page: Any,
    chromium: Any,
    server: str,
    database: Database,
    org: Org,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    admin = make_user(database, org, f"admin-{org.id.hex[:10]}@example.test")
    log_in(page, admin)
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Settings").click()
    page.wait_for_url("**/settings")
    assert page.get_by_role("heading", name="Organization information").is_visible()

    # The logo, uploaded as a file, is shown on the page.
    logo = tmp_path / "logo.png"
    logo.write_bytes(png(96, 96))
    page.get_by_label("Logo file").set_input_files(str(logo))
    page.get_by_role("button", name="Upload logo").click()
    page.wait_for_url("**/settings")
    assert page.get_by_role("status").first.inner_text() == "Logo saved"
    shown = page.get_by_role("img", name="Acme Corp logo")
    assert shown.evaluate("image => image.naturalWidth") == 96
    page.screenshot(
        path=str(OUTPUT / f"{screenshot_name(request).stem}-organization.png"), full_page=True
    )

    # Invoices: a grace period of 366 days is refused under the field, 30 is saved.
    settings_menu = page.get_by_role("navigation", name="Settings")
    settings_menu.get_by_role("link", name="Invoices").click()
    page.locator("#f-invoice_grace_period").fill("366")
    page.get_by_role("button", name="Save grace period").click()
    assert page.locator("#f-invoice_grace_period-error").inner_text() == (
        "Enter a whole number of days from 0 to 365."
    )
    page.screenshot(
        path=str(OUTPUT / f"{screenshot_name(request).stem}-grace-refused.png"), full_page=True
    )
    page.locator("#f-invoice_grace_period").fill("30")
    page.get_by_role("button", name="Save grace period").click()
    page.wait_for_url("**/settings/invoices")
    assert page.get_by_role("status").first.inner_text() == "Grace period saved"
    assert organization_as_api(database, org)["billing_configuration"]["invoice_grace_period"] == 30

    # Members: invite a finance member; the link is shown once.
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Members").click()
    page.get_by_role("link", name="Invite a member").click()
    email = f"finance-{org.id.hex[:10]}@example.test"
    page.get_by_label("Email").fill(email)
    page.get_by_role("radio", name=re.compile(r"\bFinance\b")).check()
    page.screenshot(
        path=str(OUTPUT / f"{screenshot_name(request).stem}-invite.png"), full_page=True
    )
    page.get_by_role("button", name="Generate invitation link").click()
    page.wait_for_url("**/settings/members/invitations/*")
    link = page.locator("#invitation-link").input_value()
    assert link.startswith(f"{server}/invitation/")
    page.screenshot(path=str(OUTPUT / f"{screenshot_name(request).stem}-link.png"), full_page=True)

    # The invitee, in another browser: set a password, join, see the finance menu.
    context = chromium.new_context(
        java_script_enabled=page.javascript, viewport={"width": 1280, "height": 860}
    )
    try:
        invitee = context.new_page()
        invitee.goto(link)
        assert invitee.get_by_role("heading", level=1).inner_text() == "Join Acme Corp"
        invitee.get_by_label("Set your password").fill(STRONG)
        invitee.get_by_label("Confirm your password").fill(STRONG)
        invitee.screenshot(
            path=str(OUTPUT / f"{screenshot_name(request).stem}-join.png"), full_page=True
        )
        invitee.get_by_role("button", name="Join Acme Corp").click()
        invitee.wait_for_url("**/customers")
        assert menu(invitee) == [
            "/customers", "/analytics", "/plans", "/add-ons", "/coupons", "/customers",
            "/subscriptions", "/invoices", "/credit-notes", "/settings", "/settings/account",
        ]  # fmt: skip
        invitee.screenshot(
            path=str(OUTPUT / f"{screenshot_name(request).stem}-finance.png"), full_page=True
        )
        assert invitee.goto(f"{server}/settings/members").status == 403
    finally:
        context.close()

    # Back with the admin: the new member is listed with their role.
    page.goto("/settings/members")
    row = page.locator("#members tr", has_text=email)
    assert row.locator("select").input_value() == "finance"
