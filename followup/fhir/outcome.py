"""Errors as OperationOutcome: one issue per problem, naming where it is (the Bundle
entry by index and fullUrl, the element by its FHIRPath-like location)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from followup.fhir.validate import fhir_validated

# HTTP status -> the issue code a reader's software can act on.
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 409: "conflict"}


@dataclass(frozen=True)
class Issue:
    diagnostics: str
    code: str = "invalid"
    expression: tuple[str, ...] = ()
    severity: str = "error"

    def as_dict(self) -> dict[str, Any]:
        issue: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


@dataclass
class FhirError(Exception):
    """A refusal: the HTTP status and the issues of the OperationOutcome."""

    status: int
    issues: list[Issue] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(issue.diagnostics for issue in self.issues)


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return fhir_validated({"resourceType": "OperationOutcome", "issue": [issue.as_dict() for issue in issues]})


def simple_error(status: int, diagnostics: str) -> FhirError:
    return FhirError(status, [Issue(diagnostics=diagnostics, code=ISSUE_CODES.get(status, "processing"))])
