"""README's Dashboard section as written: a first `meterbill serve` on an empty database
logs a dashboard user and a one-time password with which one logs in."""

from __future__ import annotations

import re

import httpx

from tests.api.test_readme import served  # noqa: F401  (the fixture)
from tests.dashboard.conftest import csrf_of


def test_first_serve_logs_a_password_to_log_in_with(served: tuple[str, str]) -> None:  # noqa: F811
    address, log = served
    assert f"Log in at http://{address}/ with:" in log
    assert re.search(r"^\s*export METERBILL_API_KEY=mb_\S+$", log, flags=re.M)
    email = re.search(r"^\s*email +(\S+)$", log, flags=re.M)
    password = re.search(r"^\s*password +(\S+)$", log, flags=re.M)
    assert email and password, log
    with httpx.Client(base_url=f"http://{address}") as browser:
        form = browser.get("/login")
        assert form.headers["x-frame-options"] == "DENY"
        done = browser.post(
            "/login",
            data={
                "csrf_token": csrf_of(form.text),
                "email": email.group(1),
                "password": password.group(1),
            },
        )
        assert done.status_code == 303
        customers = browser.get("/customers")
        assert customers.status_code == 200
        assert "Create your first customer" in customers.text
        # The vendored assets are served by the same process.
        assert browser.get("/static/vendor/htmx.min.js").status_code == 200
        assert browser.get("/static/app.css").headers["content-type"].startswith("text/css")
