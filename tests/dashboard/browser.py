"""Playwright driving Debian's Chromium (/usr/bin/chromium): one browser per test
session, a fresh context (cookies) per test, a screenshot of each test's last page
under test-output/dashboard/. Without Chromium or Playwright the tests are skipped
(conftest.py prints a one-line notice)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"


def unavailable() -> str | None:
    """Why browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (Debian package chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install playwright)"
    return None


# One browser per test module: two modules import this fixture (tests/dashboard and
# tests/dashboard_actions), and Playwright's sync API cannot run twice at once in a
# process; a session-wide one would still be open when the other module starts.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    reason = unavailable()
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # Root in a container: Chromium's sandbox needs namespaces it may not have.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


def screenshot_name(request: pytest.FixtureRequest) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    return OUTPUT / f"{name}.png"


def open_page(
    chromium: Any, server: str, request: pytest.FixtureRequest, *, javascript: bool
) -> Iterator[Any]:
    context = chromium.new_context(
        base_url=server, java_script_enabled=javascript, viewport={"width": 1280, "height": 860}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors  # type: ignore[attr-defined]
    page.javascript = javascript  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(screenshot_name(request)), full_page=True)
        finally:
            context.close()


def sign_in(page: Any, email: str, password: str, target: str) -> None:
    """Open `target`, log in on the login page it leads to, and land back on it."""
    page.goto(target)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{target}")
