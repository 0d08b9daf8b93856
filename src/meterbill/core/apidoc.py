"""The API reference: a small vocabulary for JSON schemas and operations, and the step
that lays each feature's `docs.py` over FastAPI's generated OpenAPI document.

Routes read raw JSON (core/http.py), so FastAPI sees no request body, query filter or
response shape. Each feature describes its own objects and operations in `docs.py`,
keyed by (method, path); `describe` attaches them and adds the Bearer scheme and the
error envelope shared by every /api/v1 route.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

Schema = dict[str, Any]

# Scalars. A trailing underscore means "or null".
STR: Schema = {"type": "string"}
STR_: Schema = {"type": ["string", "null"]}
INT: Schema = {"type": "integer"}
INT_: Schema = {"type": ["integer", "null"]}
BOOL: Schema = {"type": "boolean"}
BOOL_: Schema = {"type": ["boolean", "null"]}
TIME: Schema = {"type": "string", "format": "date-time"}
TIME_: Schema = {"type": ["string", "null"], "format": "date-time"}
DATE: Schema = {"type": "string", "format": "date"}
DATE_: Schema = {"type": ["string", "null"], "format": "date"}
UUID: Schema = {"type": "string", "format": "uuid"}
UUID_: Schema = {"type": ["string", "null"], "format": "uuid"}
# Exact decimals travel as strings ("0.0125"); money in minor units is INT.
DECIMAL: Schema = {"type": "string", "description": "An exact decimal, as a string."}
DECIMAL_: Schema = {"type": ["string", "null"], "description": "An exact decimal, as a string."}
# What a request may send for a decimal: a string or a JSON number.
DECIMAL_IN: Schema = {"type": ["string", "number"]}
ANY_OBJECT: Schema = {"type": "object"}
ANY_OBJECT_: Schema = {"type": ["object", "null"]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def enum(*values: str, null: bool = False) -> Schema:
    if null:
        return {"type": ["string", "null"], "enum": [*values, None]}
    return {"type": "string", "enum": list(values)}


def arr(item: Schema) -> Schema:
    return {"type": "array", "items": item}


def obj(description: str | None = None, /, **properties: Schema) -> Schema:
    """A response object: every property is always present and no other is."""
    schema: Schema = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def with_optional(schema: Schema, **properties: Schema) -> Schema:
    """`schema` plus properties that only some responses carry."""
    return {**schema, "properties": {**schema["properties"], **properties}}


def body(required: Iterable[str] = (), **properties: Schema) -> Schema:
    """A request object: the named properties are read, others are ignored."""
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def root(name: str, schema: Schema) -> Schema:
    """Lago's request and response shape: one object under a root key."""
    return {"type": "object", "required": [name], "properties": {name: schema}}


def page(name: str, item: Schema) -> Schema:
    """A list response: the items under `name` and the pagination `meta`."""
    return {
        "type": "object",
        "required": [name, "meta"],
        "properties": {name: arr(item), "meta": ref("PaginationMeta")},
    }


@dataclass(frozen=True)
class Param:
    name: str
    schema: Schema
    description: str
    required: bool = False
    style: str | None = None

    def openapi(self, where: str) -> Schema:
        param = {
            "name": self.name,
            "in": where,
            "required": self.required or where == "path",
            "description": self.description,
            "schema": self.schema,
        }
        if self.style:
            param["style"] = self.style
            param["explode"] = True
        return param


def q(
    name: str, schema: Schema, description: str, required: bool = False, style: str | None = None
) -> Param:
    return Param(name, schema, description, required, style)


PAGE = (
    q("page", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}, "Page number, from 1."),
    q(
        "per_page",
        {"type": "integer", "minimum": 1},
        "Records per page (default 100, at most 1000).",
    ),
)


@dataclass(frozen=True)
class Operation:
    summary: str
    description: str
    response: Schema
    request: Schema | None = None
    query: tuple[Param, ...] = ()
    path: Mapping[str, str] = field(default_factory=dict)
    # Error statuses beyond the ones its shape implies (see `statuses`).
    errors: tuple[int, ...] = ()
    # A valid request body, shown in /docs (and sent by the conformance test).
    example: Any = None
    # The success answer's media type (a few answer plain text).
    media_type: str = "application/json"
    # Other shapes of the success answer, by media type (a download's empty "not yet").
    alternatives: tuple[tuple[str, Schema], ...] = ()


def op(
    summary: str,
    description: str,
    response: Schema,
    *,
    request: Schema | None = None,
    query: Iterable[Param] = (),
    path: Mapping[str, str] | None = None,
    errors: Iterable[int] = (),
    example: Any = None,
    media_type: str = "application/json",
    alternatives: Iterable[tuple[str, Schema]] = (),
) -> Operation:
    return Operation(
        summary,
        description,
        response,
        request,
        tuple(query),
        dict(path or {}),
        tuple(errors),
        example,
        media_type,
        tuple(alternatives),
    )


@dataclass(frozen=True)
class Reference:
    """One feature's part of the document."""

    tag: str
    schemas: Mapping[str, Schema]
    operations: Mapping[tuple[str, str], Operation]


ERROR_DESCRIPTIONS = {
    400: "The body is not JSON or lacks its root object, or a query value holds a NUL byte.",
    401: "No API key, or an unknown one.",
    403: "The action is not available for this record or this edition.",
    404: "A record named by the path or the body does not exist in this organization.",
    405: "The record's state does not allow the action (`code` says why, e.g. not_voidable).",
    413: "The body is larger than the server accepts.",
    422: "The request was read but refused; `error_details` says which field and why.",
}

ERROR_ENVELOPE: Schema = {
    "type": "object",
    "description": "Every refusal has this shape (Lago's error envelope).",
    "required": ["status", "error"],
    "properties": {
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
        "error": {"type": "string", "description": "The status text, or what was wrong."},
        "code": {"type": "string", "description": "e.g. customer_not_found, validation_errors."},
        "error_details": {
            "type": "object",
            "description": "For 422: field name (or `base`) to a list of error codes.",
        },
    },
}

PAGINATION_META = obj(
    "Where this page stands in the whole list.",
    current_page=INT,
    next_page=INT_,
    prev_page=INT_,
    total_pages=INT,
    total_count=INT,
)


def statuses(method: str, path: str, operation: Operation) -> list[int]:
    """The error statuses a route can answer, from its shape: 401 always; 400, 413 and 422
    with a body; 400 and 422 with query parameters; 404 with a path parameter."""
    found = {401, *operation.errors}
    if operation.request is not None:
        found |= {400, 413, 422}
    if operation.query:
        found |= {400, 422}
    if "{" in path:
        found.add(404)
    return sorted(found)


def _operation(generated: Schema, method: str, path: str, operation: Operation, tag: str) -> Schema:
    parameters = [
        {**param, "description": operation.path.get(param["name"], param.get("description", ""))}
        for param in generated.get("parameters", [])
        if param["in"] == "path"
    ] + [param.openapi("query") for param in operation.query]
    described: Schema = {
        "tags": [tag],
        "summary": operation.summary,
        "description": operation.description,
        "operationId": generated["operationId"],
        "security": [{"bearerAuth": []}],
        "responses": {
            "200": {
                "description": "Success.",
                "content": {
                    operation.media_type: {"schema": operation.response},
                    **{media: {"schema": schema} for media, schema in operation.alternatives},
                },
            },
            **{
                str(status): {
                    "description": ERROR_DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": ref("Error")}},
                }
                for status in statuses(method, path, operation)
            },
        },
    }
    if parameters:
        described["parameters"] = parameters
    if operation.request is not None:
        content: Schema = {"schema": operation.request}
        if operation.example is not None:
            content["example"] = operation.example
        described["requestBody"] = {"required": True, "content": {"application/json": content}}
    return described


def build_document(app: FastAPI, references: Iterable[Reference]) -> Schema:
    """FastAPI's document with every /api/v1 operation replaced by its description.

    A described (method, path) with no route is a mistake in a docs.py: it raises. A
    route with no description keeps FastAPI's bare entry (the reference test finds it).
    """
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas: Schema = {"Error": ERROR_ENVELOPE, "PaginationMeta": PAGINATION_META}
    paths = document["paths"]
    for reference in references:
        schemas.update(reference.schemas)
        for (method, path), operation in reference.operations.items():
            generated = paths.get(path, {}).get(method.lower())
            if generated is None:
                raise ValueError(f"docs describe {method} {path}, which is no route")
            paths[path][method.lower()] = _operation(
                generated, method, path, operation, reference.tag
            )
    components = document.setdefault("components", {})
    # FastAPI's validation-error schemas describe nothing this API answers.
    components["schemas"] = schemas
    components["securitySchemes"] = {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "An organization's API key: `Authorization: Bearer <key>`.",
        }
    }
    return document


def install(app: FastAPI, references: Iterable[Reference]) -> None:
    """Serve the described document at /openapi.json (built once, on first request)."""
    references = list(references)
    built: list[Schema] = []

    def openapi() -> Schema:
        if not built:
            built.append(build_document(app, references))
        return built[0]

    app.openapi = openapi  # type: ignore[method-assign]


# The four /metadata routes plans, credit notes and wallets share (core/metadata.py).
METADATA_MAP: Schema = {
    "type": "object",
    "additionalProperties": STR_,
    "description": "String keys (at most 50, 100 characters) to string-or-null values.",
}
METADATA_RESPONSE = root("metadata", {**METADATA_MAP, "type": ["object", "null"]})


def metadata_operations(
    base: str, path: Mapping[str, str], noun: str
) -> dict[tuple[str, str], Operation]:
    """The replace / merge / clear / remove-one-key routes under `base`/metadata."""
    request = root("metadata", METADATA_MAP)
    with_key = {**path, "key": "The metadata key to remove."}
    return {
        ("POST", f"{base}/metadata"): op(
            f"Replace the {noun}'s metadata",
            f"The {noun}'s metadata becomes the map sent.",
            METADATA_RESPONSE,
            request=request,
            path=path,
        ),
        ("PATCH", f"{base}/metadata"): op(
            f"Merge into the {noun}'s metadata",
            "The keys sent are added or overwritten; the others stay.",
            METADATA_RESPONSE,
            request=request,
            path=path,
        ),
        ("DELETE", f"{base}/metadata"): op(
            f"Clear the {noun}'s metadata",
            "Removes every key; the answer's metadata is null.",
            METADATA_RESPONSE,
            path=path,
        ),
        ("DELETE", f"{base}/metadata/{{key}}"): op(
            f"Remove one key of the {noun}'s metadata",
            "Removes the key; 404 when the record has no metadata at all.",
            METADATA_RESPONSE,
            path=with_key,
        ),
    }
