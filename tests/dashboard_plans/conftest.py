"""Plans pages over HTTP: the logged-in `web` user of tests/dashboard_actions, the API
with the test's key, and a form reader that posts a page's form back the way a browser
without JavaScript does (every input as rendered, plus the button pressed)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard_actions.conftest import PASSWORD, Web, api, login_as, text_of, web  # noqa: F401

Json = dict[str, Any]


def metric(http: httpx.Client, code: str, aggregation: str = "count_agg", **fields: Any) -> str:
    body = {"billable_metric": {"name": code.title(), "code": code,
                                "aggregation_type": aggregation, **fields}}  # fmt: skip
    return str(api(http, "POST", "/billable_metrics", body)["billable_metric"]["lago_id"])


class _Inputs(HTMLParser):
    """The successful controls of the form with id `form_id`, in document order."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_value: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on") or "on"))
            elif kind not in ("submit", "button"):
                self.fields.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self._select, self._select_value, self._first_option = name, None, None
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                self._select_value = value
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            value = self._select_value if self._select_value is not None else self._first_option
            self.fields.append((self._select, value or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, html.unescape(self._text)))
            self._textarea = None


class PlanForm:
    """The plan form as the page shows it; `press` posts it with a button, as a browser."""

    def __init__(self, member: Web, url: str, page: str) -> None:
        self.web, self.url = member, url
        self.load(page)

    def load(self, page: str) -> None:
        self.page = page
        parser = _Inputs("plan-form")
        parser.feed(page)
        self.fields = [(k, v) for k, v in parser.fields if k != "csrf_token"]

    def value(self, name: str) -> str | None:
        return next((v for k, v in self.fields if k == name), None)

    def set(self, name: str, value: str | list[str]) -> PlanForm:
        """Type into an input (or tick exactly these boxes of a checkbox group)."""
        values = value if isinstance(value, list) else [value]
        position = next((i for i, (k, _v) in enumerate(self.fields) if k == name), None)
        self.fields = [(k, v) for k, v in self.fields if k != name]
        at = len(self.fields) if position is None else position
        self.fields[at:at] = [(name, v) for v in values]
        return self

    def press(self, action: str, *, expect: int = 200) -> httpx.Response:
        response = self.web.post(self.url, [*self.fields, ("action", action)])
        assert response.status_code == expect, text_of(response.text)[:2000]
        if response.status_code in (200, 422):
            self.load(response.text)
        return response


def open_form(member: Web, url: str) -> PlanForm:
    page = member.get(url)
    assert page.status_code == 200, page.text[:500]
    return PlanForm(member, url, page.text)


def error_under(page: str, field: str) -> str:
    """The message under an input (its `f-<name>-error` paragraph, dots as dashes)."""
    marker = f'id="f-{field.replace(".", "-")}-error">'
    assert marker in page, f"no error under {field}: {text_of(page)[:1500]}"
    return html.unescape(page.split(marker, 1)[1].split("</p>", 1)[0])


@pytest.fixture
def finance(server: str, database: Database, org: Org) -> Iterator[Web]:
    member = login_as(server, database, org, "finance")
    yield member
    member.client.close()
