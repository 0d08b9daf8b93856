"""Real responses checked against the API reference (/openapi.json), so it cannot drift.

schemathesis generates requests for every operation from the document itself, sends them
to the real test server, and checks each answer: no 500, a status the document lists,
JSON, and a body that matches the documented schema. Each operation is also called with
the ids of records seeded beforehand, so 200 responses are checked, not only 404s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from meterbill.core.db import Database
from tests.conftest import make_org
from tests.hostile import Route, path_value, seed

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Required query parameters that name a seeded record.
SEEDED_QUERY = {"external_subscription_id": "subscription", "external_customer_id": "customer"}
EXAMPLES = settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _failures(run: Callable[[], None]) -> str | None:
    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # several failures come as a group
        return _text(exc)[:3_000]
    return None


def _checker(
    strategy: Any, name: str, answered: dict[str, set[int]], call: Callable[[Any], int]
) -> Callable[[], None]:
    @EXAMPLES
    @given(case=strategy)
    def check(case: schemathesis.Case) -> None:
        answered.setdefault(name, set()).add(call(case))

    return check


def _required_query(document: dict[str, Any], route: Route) -> list[str]:
    described = document["paths"][route.path][route.method.lower()]
    return [
        param["name"]
        for param in described.get("parameters", [])
        if param["in"] == "query" and param.get("required")
    ]


def _example(document: dict[str, Any], route: Route) -> Any:
    described = document["paths"][route.path][route.method.lower()]
    return (
        described.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("example")
    )


def _text(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return str(exc) + "\n" + "\n".join(_text(inner) for inner in exc.exceptions)
    return str(exc)


@pytest.fixture(scope="module")
def seeded(server: str, database: Database) -> tuple[str, dict[str, str]]:
    org = make_org(database, "Conformance")
    with httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {org.api_key}"}, timeout=30
    ) as client:
        ids = seed(client)  # type: ignore[arg-type]
    return org.api_key, ids


def test_every_operation_answers_as_documented(
    server: str, seeded: tuple[str, dict[str, str]]
) -> None:
    key, ids = seeded
    document = httpx.get(f"{server}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    session = requests.Session()
    headers = {"Authorization": f"Bearer {key}"}
    failures: dict[str, str] = {}
    answered: dict[str, set[int]] = {}
    # Reads first, while the seeded records are as seeded; then writes; deletions last.
    order = {"GET": 0, "DELETE": 2}
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda operation: order.get(operation.method.upper(), 1),
    )
    assert len(operations) > 100

    def call(case: schemathesis.Case) -> int:
        response = case.call_and_validate(
            base_url=server, session=session, headers=headers, checks=CHECKS
        )
        return response.status_code

    for operation in operations:
        route = Route(operation.method.upper(), operation.path)
        strategies: list[Any] = [operation.as_strategy()]
        example = _example(document, route)
        if example is not None:
            # The document's own example body: a create that must succeed.
            strategies.append(operation.as_strategy(body=example))
        required = _required_query(document, route)
        if (route.params or required) and route.method != "DELETE":
            # The seeded records, so the success path is exercised too (DELETE would
            # remove them from under the operations after it).
            found = {name: path_value(route, name, ids) for name in route.params}
            query = {name: ids[SEEDED_QUERY[name]] for name in required}
            strategies.append(operation.as_strategy(path_parameters=found, query=query))
        for index, strategy in enumerate(strategies):
            check = _checker(strategy, f"{route.method} {route.path}", answered, call)
            failure = _failures(check)
            if failure:
                failures[f"{route.method} {route.path} #{index}"] = failure

    assert not failures, "\n\n".join(f"{name}\n{text}" for name, text in failures.items())
    # Every read answered a 200 at least once, so its success body was checked too.
    unread = sorted(
        name for name, codes in answered.items() if name.startswith("GET") and 200 not in codes
    )
    assert unread == []
    created = {name for name, codes in answered.items() if 200 in codes}
    assert {"POST /api/v1/customers", "POST /api/v1/events", "POST /api/v1/taxes"} <= created
