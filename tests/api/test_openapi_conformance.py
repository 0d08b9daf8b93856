"""Real responses checked against the API reference (/openapi.json), so it cannot drift.

schemathesis generates requests for every operation from the document itself, sends them
to the real test server, and checks each answer: no 500, a status the document lists,
JSON, and a body that matches the documented schema. Each operation is also called with
the ids of records seeded beforehand, so 200 responses are checked, not only 404s.
"""

from __future__ import annotations

import os
import re
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
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 100

    for operation in operations:
        if os.environ.get("ONLY") and not re.match(os.environ["ONLY"], operation.path):
            continue  # TEMP
        route = Route(operation.method.upper(), operation.path)
        strategies: list[Any] = [operation.as_strategy()]
        if route.params and route.method != "DELETE":
            # The seeded records, so the success path is exercised too (DELETE would
            # remove them from under the operations after it).
            found = {name: path_value(route, name, ids) for name in route.params}
            strategies.append(operation.as_strategy(path_parameters=found))
        for index, strategy in enumerate(strategies):

            @EXAMPLES
            @given(case=strategy)
            def check(case: schemathesis.Case) -> None:
                response = case.call_and_validate(
                    base_url=server, session=session, headers=headers, checks=CHECKS
                )
                answered.setdefault(f"{route.method} {route.path}", set()).add(
                    response.status_code
                )

            failure = _failures(check)
            if failure:
                failures[f"{route.method} {route.path} #{index}"] = failure

    print("FAILED:", sorted(failures))
    for name, codes in sorted(answered.items()):
        print("ANSWERED", name, sorted(codes))
    assert not failures, "\n\n".join(f"{name}\n{text}" for name, text in failures.items())
