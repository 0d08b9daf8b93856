"""Reading the developers pages and calling the API through the dashboard's app."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.conftest import Org
from tests.dashboard.conftest import csrf_of
from tests.dashboard_actions.conftest import text_of as tags_dropped


def text_of(html: str) -> str:
    """The page's visible text (tags dropped, entities read, blanks collapsed)."""
    return unescape(tags_dropped(html))


def api_get(client: TestClient, path: str, key: str) -> httpx.Response:
    """The API, answered by the dashboard's app, with a key."""
    return client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {key}"})


def api_post(client: TestClient, org: Org, path: str, body: dict[str, Any]) -> Any:
    response = client.post(
        f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {org.api_key}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def submit(
    client: TestClient, path: str, data: dict[str, Any], page: str | None = None
) -> httpx.Response:
    """POST a form (a list value sends the field once per item) with the CSRF token of
    the page it sits on; redirects are not followed."""
    token = csrf_of(client.get(page or path).text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def rows_of(html: str) -> list[str]:
    """The visible text of each row of the page's tables (header rows left out)."""
    body = html[html.find("<tbody") :] if "<tbody" in html else ""
    return [text_of(row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)]
