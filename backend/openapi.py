"""The OpenAPI document lists every status an operation can answer, with its body.

API.md's conventions give every operation its error answers; drf-spectacular only
knows the ones a view declares. ``AutoSchema`` (``DEFAULT_SCHEMA_CLASS``) adds them
from what the operation is, so a client generated from ``/api/schema/`` knows them
all, in the one format of ``backend.exceptions``:

- 400 when it takes a body, query parameters or headers: an object naming every bad
  field with a list of messages (``FieldErrors``), or ``{"detail"}`` for a body that is
  not JSON at all;
- 401 and 403 when it needs a signed-in caller (403: signed in, but not allowed);
- 404 when its path names an object;
- 409 when it takes an ``Idempotency-Key`` (documented as a header here too);
- 413 when it takes a body;
- 429, with ``Retry-After``, when it is throttled.

A query parameter given empty (``?status=``) is the same as one left out; the document
says so (``allowEmptyValue``) on every query parameter but lists of choices.

An error status a view documents itself keeps its description (and its body, if it
gives one).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter

from backend.idempotency import HEADER as IDEMPOTENCY_HEADER
from backend.idempotency import MAX_KEY_LENGTH


class CachedKnoxTokenScheme(KnoxTokenScheme):
    """The knox token read through the cache (backend.token_auth) is the same scheme.
    drf-spectacular's knox extension matches knox's own class only: without this the
    schema lost ``Authorization: Token`` and documented every operation as cookie-only
    (schemathesis then expects a request without the cookie to be refused)."""

    target_class = "backend.token_auth.CachedTokenAuthentication"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


COMPONENTS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "description": "An error that names no field: what went wrong, in words.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "ErrorMessages": {
        "description": "The messages about one field: a list of them, or, for a field made of "
        "fields (check-in answers), an object of its fields' messages by name (question id).",
        "anyOf": [
            {"type": "array", "items": {"anyOf": [{"type": "string"}, _ref("ErrorMessages")]}},
            {"type": "object", "additionalProperties": _ref("ErrorMessages")},
        ],
    },
    "FieldErrors": {
        "type": "object",
        "description": 'Every bad field, query parameter or header by name, with its messages: {"field": '
        '["message", ...]}; errors in check-in answers nested by question id: {"answers": '
        '{"temperature_c": ["..."]}}; an error of no one field under "non_field_errors".',
        "additionalProperties": _ref("ErrorMessages"),
        "minProperties": 1,
    },
    "BadRequest": {
        "description": "FieldErrors, or Error for a request that could not be read at all (a body that is not JSON).",
        "anyOf": [_ref("FieldErrors"), _ref("Error")],
    },
    "Conflict": {
        "description": "Error, with a stable reason code when the object's state refused the change; or "
        "FieldErrors naming the field in conflict (the Idempotency-Key reused with another body, a "
        "scheduled check-in already answered).",
        "anyOf": [
            {
                "type": "object",
                "properties": {"detail": {"type": "string"}, "reason": {"type": "string"}},
                "required": ["detail"],
            },
            _ref("FieldErrors"),
        ],
    },
}

ERRORS: dict[str, tuple[str, str]] = {
    "400": ("BadRequest", "Bad input: every bad field, query parameter or header is named; nothing was changed."),
    "401": ("Error", "Not signed in: no credentials, or a token that is unknown, expired or revoked."),
    "403": ("Error", "Signed in, but not allowed here (for example a patient's token on a staff operation)."),
    "404": (
        "Error",
        "No such object, or one the caller may not see: another clinic's or another patient's object "
        "answers exactly like one that does not exist.",
    ),
    "409": (
        "Conflict",
        "Conflict: the Idempotency-Key was already used with a different body, or the object's state "
        "does not allow this.",
    ),
    "413": ("Error", "The request body is larger than the server accepts; nothing was read."),
    "429": ("Error", "Too many requests: try again after the number of seconds in Retry-After."),
}

RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {
            "description": "How to authenticate: Token.",
            "schema": {"type": "string"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": r"\S"},
    OpenApiParameter.HEADER,
    description="Makes a retry safe: the same key with the same body returns the first response (same status, "
    "same id) and writes nothing again; the same key with a different body is a 409. Scoped to the caller and "
    "the path, kept for at least 24 hours.",
)


# drf-spectacular's description of a response declared without a body.
NO_BODY = "No response body"


class AutoSchema(openapi.AutoSchema):
    def _view_method(self) -> Any:
        action = getattr(self.view, "action", None)
        return getattr(self.view, action or self.method.lower(), None)

    def _accepts_idempotency_key(self) -> bool:
        return bool(getattr(self._view_method(), "accepts_idempotency_key", False))

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self._accepts_idempotency_key():
            parameters.append(IDEMPOTENCY_KEY_PARAMETER)
        return parameters

    def error_statuses(self, operation: dict[str, Any]) -> list[str]:
        """The error statuses this operation can answer (see the module docstring)."""
        security = operation.get("security") or []
        signed_in = bool(security) and {} not in security
        has_body = "requestBody" in operation
        parameters = [parameter for parameter in operation.get("parameters", []) if parameter.get("in") != "path"]
        statuses = []
        if has_body or parameters:
            statuses.append("400")
        if signed_in:
            statuses += ["401", "403"]
        if "{" in self.path:
            statuses.append("404")
        if self._accepts_idempotency_key():
            statuses.append("409")
        if has_body:
            statuses.append("413")
        if self.view.get_throttles():
            statuses.append("429")
        return statuses

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for name, schema in COMPONENTS.items():
            self.registry.register_on_missing(
                ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=f"vigil-error-{name}", schema=schema)
            )
        for parameter in operation.get("parameters", []):
            # ``?status=`` given empty is the same as leaving it out (Django forms, DRF and
            # django-filter read it so; the paging too). A list of choices given empty is
            # a bad choice, so it is not marked.
            if parameter.get("in") == "query" and parameter.get("schema", {}).get("type") != "array":
                parameter["allowEmptyValue"] = True
        responses = operation["responses"]
        documented = {code for code in responses if code.startswith("4")}
        for code in sorted({*self.error_statuses(operation), *documented}):
            component, description = ERRORS.get(code, ("Error", "Error."))
            response = responses.setdefault(code, {})
            if response.get("description") in (None, "", NO_BODY):
                response["description"] = description
            if not response.get("content"):
                response["content"] = {"application/json": {"schema": _ref(component)}}
            if code in RESPONSE_HEADERS:
                response.setdefault("headers", {}).update(RESPONSE_HEADERS[code])
        operation["responses"] = dict(sorted(responses.items()))
        return operation
