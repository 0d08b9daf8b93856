"""Domain errors and the Lago error envelopes they become."""

from __future__ import annotations

from typing import Any


class MeterbillError(Exception):
    status: int = 500
    error: str = "Internal Server Error"
    # Where in a nested request the refusal arose, e.g. ("charges", 1, "filters", 0), for
    # forms that show it beside the right row; not part of the API's envelope.
    location: tuple[str | int, ...] = ()

    def __init__(self, code: str | None = None) -> None:
        super().__init__(code or self.error)
        self.code = code

    def body(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"status": self.status, "error": self.error}
        if self.code is not None:
            payload["code"] = self.code
        return payload


class BadRequest(MeterbillError):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(None)
        self.error = f"BadRequest: {message}"


class MissingParam(BadRequest):
    """Rails' ParameterMissing: the root object of a request body is absent or not an object."""

    def __init__(self, root: str) -> None:
        super().__init__(f"param is missing or the value is empty or invalid: {root}")


class Unauthorized(MeterbillError):
    status = 401
    error = "Unauthorized"


class Forbidden(MeterbillError):
    status = 403
    error = "Forbidden"


class NotFound(MeterbillError):
    status = 404
    error = "Not Found"

    def __init__(self, resource: str) -> None:
        super().__init__(f"{resource}_not_found")


class MethodNotAllowed(MeterbillError):
    status = 405
    error = "Method Not Allowed"


class PayloadTooLarge(MeterbillError):
    """A request body over the configured limit, refused before it is parsed."""

    status = 413
    error = "Payload Too Large"

    def __init__(self) -> None:
        super().__init__("request_too_large")


class ValidationFailed(MeterbillError):
    """422 validation_errors; details map a field (or "base") to a list of codes."""

    status = 422
    error = "Unprocessable Entity"

    def __init__(self, details: dict[str, Any]) -> None:
        super().__init__("validation_errors")
        self.details = details

    def body(self) -> dict[str, Any]:
        return {**super().body(), "error_details": self.details}

    @classmethod
    def single(cls, field: str, code: str) -> ValidationFailed:
        return cls({field: [code]})
