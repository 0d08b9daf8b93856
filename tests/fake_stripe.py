"""A fake Stripe for the tests: a real HTTP server on a local port speaking Stripe's
API as the official `stripe` package calls it (form-encoded requests, JSON objects in
Stripe's shapes, errors in its envelope), for the few endpoints meterbill uses.

Accounts are told apart by their secret key, so each test has its own. It honours
Idempotency-Key (the same key replays the first answer: no second charge), fails on
demand (a dropped connection before or after the work, a 500, a 429), and signs
webhook events with Stripe's scheme (`t=...,v1=HMAC-SHA256(t.payload)`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson

# Stripe's test payment methods (https://docs.stripe.com/testing), as meterbill meets them.
CARD_OK = "pm_card_visa"
CARD_DECLINED = "pm_card_chargeDeclined"
CARD_3DS = "pm_card_authenticationRequired"
CARD_PROCESSING = "pm_usBankAccount_processing"

_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):014d}"


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding back to nested objects: a[b][0][c]=v."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            following = None if last else parts[index + 1]
            child: Any = value if last else ([] if following.isdigit() else {})  # type: ignore[union-attr]
            if isinstance(node, list):
                position = int(part)
                while len(node) <= position:
                    node.append(None)
                if node[position] is None or last:
                    node[position] = child
                node = node[position]
            else:
                if part not in node or last:
                    node[part] = child
                node = node[part]
    return root


@dataclass
class Account:
    """One Stripe account (one secret key)."""

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_methods: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Money actually taken, one entry per charge: what a double charge would show.
    charges: list[dict[str, Any]] = field(default_factory=list)
    idempotent: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    # What the next requests to a path meet, in order (`fail`).
    failures: list[tuple[str, Any]] = field(default_factory=list)
    # Every request: (method, path, params, idempotency key).
    requests: list[tuple[str, str, dict[str, Any], str | None]] = field(default_factory=list)
    refund_status: str = "succeeded"
    # Customers created with this email are refused (a customer sync failure).
    refused_email: str | None = None

    def fail(self, path: str, *modes: Any) -> None:
        """The next requests whose path starts with `path` meet these, in order: "drop"
        (no answer, nothing done), "drop_after" (done, the answer lost), 500, 429."""
        self.failures.extend((path, mode) for mode in modes)

    def take_failure(self, path: str) -> Any:
        for index, (prefix, mode) in enumerate(self.failures):
            if path.startswith(prefix):
                del self.failures[index]
                return mode
        return None

    def paths(self, method: str | None = None) -> list[str]:
        return [path for verb, path, _p, _k in self.requests if method in (None, verb)]


class StripeFailure(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        self.status, self.error = status, error


def _missing(kind: str, key: str) -> StripeFailure:
    return StripeFailure(
        404,
        {"type": "invalid_request_error", "code": "resource_missing", "param": "id",
         "message": f"No such {kind}: '{key}'"},
    )  # fmt: skip


@dataclass
class FakeStripe:
    url: str = ""
    accounts: dict[str, Account] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def account(self, secret_key: str) -> Account:
        with self.lock:
            return self.accounts.setdefault(secret_key, Account())

    # --- what the dashboard of a real account would do ---------------------

    def add_customer(self, secret_key: str, *, payment_method: str | None = CARD_OK) -> str:
        account = self.account(secret_key)
        customer = self._customer({"email": "existing@example.com"})
        account.customers[customer["id"]] = customer
        if payment_method:
            self.attach(secret_key, customer["id"], payment_method)
        return str(customer["id"])

    def attach(self, secret_key: str, customer_id: str, payment_method: str) -> None:
        account = self.account(secret_key)
        method = {"id": payment_method, "object": "payment_method", "type": "card",
                  "customer": customer_id, "card": {"brand": "visa", "last4": "4242"}}  # fmt: skip
        account.payment_methods.setdefault(customer_id, []).append(method)

    # --- webhooks ----------------------------------------------------------

    @staticmethod
    def event(
        event_type: str, obj: dict[str, Any], *, created: int | None = None
    ) -> dict[str, Any]:
        return {
            "id": _id("evt"),
            "object": "event",
            "api_version": "2025-04-30.basil",
            "created": created or int(time.time()),
            "livemode": False,
            "type": event_type,
            "data": {"object": obj},
        }

    @staticmethod
    def signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
        stamp = timestamp or int(time.time())
        signed = f"{stamp}.".encode() + payload
        mac = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return f"t={stamp},v1={mac}"

    @classmethod
    def deliver(
        cls, url: str, event: dict[str, Any], secret: str, *, timestamp: int | None = None
    ) -> httpx.Response:
        payload = orjson.dumps(event)
        headers = {
            "content-type": "application/json",
            "stripe-signature": cls.signature(payload, secret, timestamp),
        }
        return httpx.post(url, content=payload, headers=headers, timeout=10)

    # --- the API -------------------------------------------------------------

    def handle(
        self, account: Account, method: str, path: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        parts = path.strip("/").split("/")[1:]  # without "v1"
        route = (method, parts[0], len(parts))
        if route == ("POST", "customers", 1):
            if account.refused_email and params.get("email") == account.refused_email:
                raise StripeFailure(400, {"type": "invalid_request_error",
                                          "code": "email_invalid", "param": "email",
                                          "message": "Invalid email address"})  # fmt: skip
            customer = self._customer(params)
            account.customers[customer["id"]] = customer
            return customer
        if route == ("GET", "customers", 2):
            return self._find(account.customers, "customer", parts[1])
        if route == ("POST", "customers", 2):
            customer = self._find(account.customers, "customer", parts[1])
            for key in ("name", "email", "phone", "metadata", "invoice_settings"):
                if key in params:
                    customer[key] = params[key]
            return customer
        if route == ("GET", "customers", 3) and parts[2] == "payment_methods":
            self._find(account.customers, "customer", parts[1])
            data = account.payment_methods.get(parts[1], [])
            return {"object": "list", "data": data, "has_more": False, "url": path}
        if route == ("POST", "payment_intents", 1):
            return self._payment_intent(account, params)
        if route == ("POST", "checkout", 2) and parts[1] == "sessions":
            session_id = _id("cs_test")
            checkout = {"id": session_id, "object": "checkout.session", "mode": params["mode"],
                        "status": "open", "customer": params.get("customer"),
                        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                        "success_url": params.get("success_url"),
                        "line_items": params.get("line_items"),
                        "payment_intent_data": params.get("payment_intent_data")}  # fmt: skip
            account.sessions[session_id] = checkout
            return checkout
        if route == ("POST", "refunds", 1):
            intent = self._find(account.payment_intents, "payment_intent", params["payment_intent"])
            refund = {"id": _id("re"), "object": "refund", "amount": int(params["amount"]),
                      "currency": intent["currency"], "payment_intent": intent["id"],
                      "status": account.refund_status, "metadata": params.get("metadata", {}),
                      "reason": params.get("reason")}  # fmt: skip
            account.refunds[refund["id"]] = refund
            return refund
        if route == ("POST", "webhook_endpoints", 1):
            endpoint = {"id": _id("we"), "object": "webhook_endpoint", "url": params["url"],
                        "enabled_events": params.get("enabled_events", []),
                        "secret": f"whsec_{_id('s')}", "status": "enabled"}  # fmt: skip
            account.webhook_endpoints[endpoint["id"]] = endpoint
            return endpoint
        message = f"Unrecognized request URL ({method}: {path})"
        raise StripeFailure(404, {"type": "invalid_request_error", "message": message})

    @staticmethod
    def _customer(params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": _id("cus"),
            "object": "customer",
            "name": params.get("name"),
            "email": params.get("email"),
            "phone": params.get("phone"),
            "address": params.get("address"),
            "metadata": params.get("metadata", {}),
            "invoice_settings": {"default_payment_method": None},
            "default_source": None,
            "livemode": False,
        }

    @staticmethod
    def _find(table: dict[str, dict[str, Any]], kind: str, key: str) -> dict[str, Any]:
        if key not in table:
            raise _missing(kind, key)
        return table[key]

    def _payment_intent(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        amount = int(params["amount"])
        intent = {
            "id": _id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": params["currency"],
            "customer": params.get("customer"),
            "payment_method": params.get("payment_method"),
            "payment_method_types": params.get("payment_method_types", ["card"]),
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
            "off_session": params.get("off_session"),
            "status": "requires_payment_method",
            "last_payment_error": None,
            "livemode": False,
        }
        if amount < 50:
            raise StripeFailure(400, {"type": "invalid_request_error", "code": "amount_too_small",
                                      "param": "amount",
                                      "message": "Amount must be at least 50 cents"})  # fmt: skip
        self._find(account.customers, "customer", str(params.get("customer")))
        account.payment_intents[intent["id"]] = intent
        method = params.get("payment_method")
        if method in (CARD_DECLINED, CARD_3DS):
            code = "card_declined" if method == CARD_DECLINED else "authentication_required"
            message = ("Your card was declined." if method == CARD_DECLINED
                       else "Your card requires authentication.")  # fmt: skip
            intent["last_payment_error"] = {"code": code, "message": message, "type": "card_error"}
            raise StripeFailure(402, {"type": "card_error", "code": code, "message": message,
                                      "decline_code": "generic_decline",
                                      "payment_intent": intent})  # fmt: skip
        if method == CARD_PROCESSING:
            intent["status"] = "processing"
        else:
            intent["status"] = "succeeded"
            intent["amount_received"] = amount
            account.charges.append({"payment_intent": intent["id"], "amount": amount})
        return intent


class _Handler(BaseHTTPRequestHandler):
    fake: FakeStripe

    def log_message(self, *args: Any) -> None:
        pass

    def _serve(self, method: str) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode() if length else split.query
        params = decode_form(raw)
        secret_key = (self.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        account = self.fake.account(secret_key)
        key = self.headers.get("idempotency-key") if method == "POST" else None
        with self.fake.lock:
            account.requests.append((method, split.path, params, key))
            failure = account.take_failure(split.path)
        if failure == "drop":
            self._drop()
            return
        if failure in (500, 429):
            kind = "api_error" if failure == 500 else "invalid_request_error"
            code = None if failure == 500 else "rate_limit"
            self._answer(failure, {"error": {"type": kind, "code": code, "message": "Try again"}})
            return
        with self.fake.lock:
            if key is not None and key in account.idempotent:
                status, body = account.idempotent[key]
                replayed = True
            else:
                try:
                    status, body = 200, self.fake.handle(account, method, split.path, params)
                except StripeFailure as error:
                    status, body = error.status, {"error": error.error}
                if key is not None:
                    account.idempotent[key] = (status, body)
                replayed = False
        if failure == "drop_after":
            self._drop()
            return
        self._answer(status, body, replayed=replayed)

    def _drop(self) -> None:
        # The connection closes with no answer: the client sees a network failure.
        self.close_connection = True
        self.connection.close()

    def _answer(self, status: int, body: dict[str, Any], *, replayed: bool = False) -> None:
        data = orjson.dumps(body)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", _id("req"))
        self.send_header("stripe-should-retry", "false")
        if replayed:
            self.send_header("idempotent-replayed", "true")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")


@contextmanager
def running_fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


_shared: FakeStripe | None = None
_shared_lock = threading.Lock()
# Held for the process's life: a context manager collected as garbage would stop it.
_managers: list[Any] = []


def shared_fake_stripe() -> FakeStripe:
    """One fake per test process, started before the test server that points at it
    (accounts, one per test, keep tests apart)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            manager = running_fake_stripe()
            _managers.append(manager)
            _shared = manager.__enter__()
        return _shared
