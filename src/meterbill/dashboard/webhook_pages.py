"""Developers › Webhooks: the endpoints (add, edit, delete through the webhook endpoints
API's own parsing and services), the organization's HMAC key (revealed on request), an
endpoint's delivery log with filters, a delivery's page and Retry."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from meterbill.core.errors import MethodNotAllowed, NotFound, ValidationFailed
from meterbill.core.pagination import PageRequest
from meterbill.dashboard.date_filters import day_start, iso_date
from meterbill.dashboard.web import (
    Form,
    FormData,
    Page,
    PageContext,
    list_url,
    redirect_to,
    render,
    requires,
)
from meterbill.webhooks import service
from meterbill.webhooks.keys import organization_keys
from meterbill.webhooks.models import STATUSES, Webhook, WebhookEndpoint
from meterbill.webhooks.schemas import URL_MAX, parse_endpoint
from meterbill.webhooks.types import EVENT_TYPES, SENT

router = APIRouter(include_in_schema=False)

PERMISSION = requires("developers:manage")
PER_PAGE = 20

# The endpoint form's messages (Lago's words where it has them).
MESSAGES = {
    ("webhook_url", "value_is_mandatory"): "Please enter the webhook URL",
    ("webhook_url", "url_is_invalid"): "Please fill this input with a URL format to move forward",
    ("webhook_url", "value_already_exist"): "This URL is already in use, please add a new one.",
    ("webhook_url", "value_is_too_long"): f"The URL can be at most {URL_MAX} characters long",
    ("signature_algo", "value_is_invalid"): "Choose a JWT or an HMAC signature",
    ("name", "value_is_too_long"): "The name is too long",
}
SIGNATURES = (
    ("jwt", "JWT signature", "Signed with the organization's RSA key; the header may be long."),
    ("hmac", "HMAC signature", "Signed with the organization's HMAC key; a short header."),
)
STATUS_LABELS = {
    "pending": "Pending",
    "retrying": "Retrying",
    "succeeded": "Succeeded",
    "failed": "Failed",
}
HTTP_STATUS_LABELS = (
    ("2xx", "2xx (success)"),
    ("3xx", "3xx"),
    ("4xx", "4xx"),
    ("5xx", "5xx"),
    ("none", "No answer"),
)


def _event_groups(sent: bool) -> list[tuple[str, list[str]]]:
    """The types an endpoint may listen to, by category: those meterbill sends, or the
    others Lago defines (an endpoint may listen to them; none comes yet)."""
    names = sorted(name for name in EVENT_TYPES if (name in SENT) == sent)
    return [
        (category, list(items))
        for category, items in groupby(names, key=lambda name: name.split(".")[0])
    ]


SENT_GROUPS = _event_groups(sent=True)
OTHER_GROUPS = _event_groups(sent=False)


# --- Endpoints -----------------------------------------------------------------------


@router.get("/developers/webhooks", dependencies=[PERMISSION])
def webhooks(request: Request, page: Page) -> HTMLResponse:
    return _endpoints_page(request, page, hmac_key=None)


@router.post("/developers/webhooks/hmac-key", dependencies=[PERMISSION])
def reveal_hmac_key(request: Request, page: Page, form: Form) -> HTMLResponse:
    """The key is shown in this answer only, on request (a write: keys are made on first
    use)."""
    with page.db.transaction() as session:
        hmac_key = organization_keys(session, page.organization_id, page.now).hmac_key
    response = _endpoints_page(request, page, hmac_key=hmac_key)
    response.headers["Cache-Control"] = "no-store"
    return response


def _endpoints_page(request: Request, page: Page, *, hmac_key: str | None) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        endpoints = list(
            service.list_endpoints(
                session, page.organization_id, PageRequest(page=1, per_page=service.MAX_ENDPOINTS)
            ).items
        )
    return render(
        request,
        "developers/webhooks.html",
        {
            "section": "developers",
            "tab": "webhooks",
            "endpoints": endpoints,
            "hmac_key": hmac_key,
            "limit": service.MAX_ENDPOINTS,
        },
    )


@dataclass
class EndpointForm:
    """The form's values as typed, and one message per field."""

    webhook_url: str = ""
    name: str = ""
    signature_algo: str = "jwt"
    all_events: bool = True
    event_types: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointForm:
        return cls(
            webhook_url=endpoint.webhook_url,
            name=endpoint.name or "",
            signature_algo=endpoint.signature_algo,
            all_events=endpoint.event_types is None,
            event_types=list(endpoint.event_types or []),
        )

    @classmethod
    def read(cls, form: FormData) -> EndpointForm:
        return cls(
            webhook_url=form.get("webhook_url").strip(),
            name=form.get("name").strip(),
            signature_algo=form.get("signature_algo"),
            all_events=form.get("events", "all") != "some",
            event_types=form.getlist("event_types"),
        )

    def body(self) -> dict[str, Any]:
        """The endpoint as the API receives it (webhook_endpoint's keys)."""
        return {
            "webhook_url": self.webhook_url,
            "name": self.name,
            "signature_algo": self.signature_algo,
            "event_types": None if self.all_events else self.event_types,
        }

    def explain(self, error: ValidationFailed) -> None:
        for key, codes in error.details.items():
            code = str(codes[0])
            if key == "webhook_url" and not self.webhook_url:
                code = "value_is_mandatory"
            if key == "event_types":
                message = "Choose event types from the list"
            else:
                message = MESSAGES.get((key, code), code if key == "base" else _words(code))
            self.errors[key] = message


def _words(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _form_page(
    request: Request, endpoint: WebhookEndpoint | None, form: EndpointForm, status: int = 200
) -> HTMLResponse:
    return render(
        request,
        "developers/webhook_form.html",
        {
            "section": "developers",
            "tab": "webhooks",
            "endpoint": endpoint,
            "form": form,
            "values": {"webhook_url": form.webhook_url, "name": form.name},
            "errors": form.errors,
            "signatures": SIGNATURES,
            "sent_groups": SENT_GROUPS,
            "other_groups": OTHER_GROUPS,
            "other_checked": bool(set(form.event_types) - set(SENT)),
        },
        status_code=status,
    )


@router.get("/developers/webhooks/new", dependencies=[PERMISSION])
def new_endpoint(request: Request, page: Page) -> HTMLResponse:
    return _form_page(request, None, EndpointForm())


@router.post("/developers/webhooks/new", dependencies=[PERMISSION])
def create_endpoint(request: Request, page: Page, form: Form) -> Response:
    data = EndpointForm.read(form)
    try:
        values = parse_endpoint(data.body(), creating=True)
        with page.db.transaction() as session:
            endpoint = service.create_endpoint(session, page.organization_id, values, page.now)
            endpoint_id = endpoint.id
    except ValidationFailed as exc:
        data.explain(exc)
        return _form_page(request, None, data, status=422)
    return redirect_to(
        request, f"/developers/webhooks/{endpoint_id}", flash="Webhook endpoint successfully added"
    )


def _endpoint(page: PageContext, endpoint_id: str) -> WebhookEndpoint:
    with page.db.transaction(write=False) as session:
        endpoint = service.find_endpoint(session, page.organization_id, endpoint_id)
        session.expunge(endpoint)
    return endpoint


@router.get("/developers/webhooks/{endpoint_id}/edit", dependencies=[PERMISSION])
def edit_endpoint(request: Request, page: Page, endpoint_id: str) -> HTMLResponse:
    endpoint = _endpoint(page, endpoint_id)
    return _form_page(request, endpoint, EndpointForm.of(endpoint))


@router.post("/developers/webhooks/{endpoint_id}/edit", dependencies=[PERMISSION])
def update_endpoint(request: Request, page: Page, form: Form, endpoint_id: str) -> Response:
    endpoint = _endpoint(page, endpoint_id)
    data = EndpointForm.read(form)
    try:
        values = parse_endpoint(data.body(), creating=False)
        with page.db.transaction() as session:
            service.update_endpoint(session, page.organization_id, endpoint_id, values, page.now)
    except ValidationFailed as exc:
        data.explain(exc)
        return _form_page(request, endpoint, data, status=422)
    return redirect_to(
        request, f"/developers/webhooks/{endpoint_id}", flash="Webhook endpoint successfully edited"
    )


@router.get("/developers/webhooks/{endpoint_id}/delete", dependencies=[PERMISSION])
def confirm_delete(request: Request, page: Page, endpoint_id: str) -> HTMLResponse:
    context = {"section": "developers", "endpoint": _endpoint(page, endpoint_id)}
    return render(request, "developers/webhook_delete.html", context)


@router.post("/developers/webhooks/{endpoint_id}/delete", dependencies=[PERMISSION])
def delete_endpoint(request: Request, page: Page, form: Form, endpoint_id: str) -> Response:
    with page.db.transaction() as session:
        service.delete_endpoint(session, page.organization_id, endpoint_id)
    flash = "Webhook endpoint successfully deleted"
    return redirect_to(request, "/developers/webhooks", flash=flash)


# --- Delivery log ----------------------------------------------------------------------


@dataclass(frozen=True)
class LogState:
    """The log's filters and page, as the URL holds them."""

    status: str = ""
    event_type: str = ""
    http_status: str = ""
    from_date: str = ""
    to_date: str = ""
    search: str = ""
    page: int = 1

    @classmethod
    def read(cls, params: QueryParams) -> LogState:
        def one(key: str, allowed: tuple[str, ...] | frozenset[str] | None = None) -> str:
            value = params.get(key, "").strip()
            return value if allowed is None or value in allowed else ""

        return cls(
            status=one("status", STATUSES),
            event_type=one("event_type", EVENT_TYPES),
            http_status=one("http_status", service.HTTP_STATUS_CLASSES),
            from_date=iso_date(params.get("from", "")),
            to_date=iso_date(params.get("to", "")),
            search=one("search")[:200],
            page=PageRequest.from_query({"page": params.get("page", "1")}).page,
        )

    def filters(self, endpoint: WebhookEndpoint, timezone: str) -> service.WebhookFilters:
        return service.WebhookFilters(
            webhook_endpoint_id=endpoint.id,
            statuses=(self.status,) if self.status else (),
            webhook_types=(self.event_type,) if self.event_type else (),
            http_statuses=(self.http_status,) if self.http_status else (),
            from_date=day_start(self.from_date, timezone),
            to_date=day_start(self.to_date, timezone, next_day=True),
            search=self.search or None,
        )

    def link(self, base: str, **changes: Any) -> str:
        state = {
            "status": self.status, "event_type": self.event_type,
            "http_status": self.http_status, "from": self.from_date, "to": self.to_date,
            "search": self.search, "page": self.page, **changes,
        }  # fmt: skip
        return list_url(base, state)

    @property
    def filtered(self) -> bool:
        return any((self.status, self.event_type, self.http_status, self.from_date,
                    self.to_date, self.search))  # fmt: skip


@router.get("/developers/webhooks/{endpoint_id}", dependencies=[PERMISSION])
def endpoint_log(request: Request, page: Page, endpoint_id: str) -> HTMLResponse:
    state = LogState.read(request.query_params)
    timezone = page.user.organization_timezone
    with page.db.transaction(write=False) as session:
        endpoint = service.find_endpoint(session, page.organization_id, endpoint_id)
        result = service.list_webhooks(
            session,
            page.organization_id,
            state.filters(endpoint, timezone),
            PageRequest(page=state.page, per_page=PER_PAGE),
        )
        deliveries = list(result.items)
        session.expunge_all()
    base = f"/developers/webhooks/{endpoint.id}"
    return render(
        request,
        "developers/webhook_log.html",
        {
            "section": "developers",
            "tab": "webhooks",
            "endpoint": endpoint,
            "deliveries": deliveries,
            "meta": result.meta,
            "state": state,
            "link": lambda **changes: state.link(base, **changes),
            "statuses": STATUS_LABELS,
            "http_statuses": HTTP_STATUS_LABELS,
            "event_types": sorted(EVENT_TYPES),
        },
    )


@router.get(
    "/developers/webhooks/{endpoint_id}/deliveries/{delivery_id}", dependencies=[PERMISSION]
)
def delivery(request: Request, page: Page, endpoint_id: str, delivery_id: str) -> HTMLResponse:
    endpoint = _endpoint(page, endpoint_id)

    def read(session: Session) -> tuple[list[Webhook], Webhook]:
        webhook = _delivery_of(session, page, endpoint, delivery_id)
        session.expunge(webhook)
        return [webhook], webhook

    # A billing run's webhook has its payload rendered now, as the API's log does.
    webhook = service.read_rendered(page.db, read)
    return render(
        request,
        "developers/webhook_delivery.html",
        {
            "section": "developers",
            "tab": "webhooks",
            "endpoint": endpoint,
            "webhook": webhook,
            "payload": json.dumps(webhook.payload, indent=2, ensure_ascii=False)
            if webhook.payload is not None
            else "",
            "response": _pretty(webhook.response),
            "statuses": STATUS_LABELS,
        },
    )


def _delivery_of(
    session: Session, page: PageContext, endpoint: WebhookEndpoint, delivery_id: str
) -> Webhook:
    webhook = service.find_webhook(session, page.organization_id, delivery_id)
    if webhook.webhook_endpoint_id != endpoint.id:
        raise NotFound("webhook")
    return webhook


def _pretty(response: str | None) -> str:
    """A JSON answer indented; anything else as received."""
    if not response:
        return ""
    try:
        return json.dumps(json.loads(response), indent=2, ensure_ascii=False)
    except ValueError:
        return response


@router.post(
    "/developers/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry",
    dependencies=[PERMISSION],
)
def retry(request: Request, page: Page, form: Form, endpoint_id: str, delivery_id: str) -> Response:
    endpoint = _endpoint(page, endpoint_id)
    target = f"/developers/webhooks/{endpoint.id}/deliveries/{delivery_id}"
    try:
        with page.db.transaction() as session:
            _delivery_of(session, page, endpoint, delivery_id)
            service.retry_webhook(session, page.organization_id, delivery_id, page.now)
    except MethodNotAllowed:
        return redirect_to(request, target, flash="Webhook was already delivered successfully")
    return redirect_to(request, target, flash="Webhook successfully resent")
