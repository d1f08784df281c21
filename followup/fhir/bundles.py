"""POST /fhir/Bundle: lab results, enrolments and check-ins from outside, through
Vigil's own services (``observation_create``, ``enrollment_create``,
``checkin_submit``), so a result or a check-in from the hospital is validated and
judged exactly as one typed in.

A transaction is all or nothing: every entry is read and checked first (the patient
it names, the unit it gives), and any problem refuses the whole Bundle with an
OperationOutcome naming each entry; then everything is written in one database
transaction, and a service refusing an entry rolls all of it back. A batch takes each
entry on its own. Entries are applied patients first, then enrolments, lab results
and check-ins, whatever their order in the Bundle (FHIR's own processing order is by
method, so a sender cannot rely on ours).

Who may post what: a clinic's service account (role ``integration``) and its staff
post lab results and enrolments for that clinic; check-ins come from the patient's
own token (a third-party app acting for them) or from staff."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from pydantic import ValidationError

from backend.audit import AuditContext
from backend.models import User
from backend.token_auth import patient_id_of
from followup.fhir.apply import EntryRefused, Outcome, apply_entry
from followup.fhir.entries import ACCEPTED, Entry
from followup.fhir.outcome import FhirError, Issue, operation_outcome
from followup.fhir.plan import Caller, Plan, plan_entries
from followup.fhir.validate import fhir_validated


def caller_of(user: User) -> Caller | None:
    if user.is_clinic_staff:
        return Caller(kind="staff", user=user, clinic_id=user.clinic_id)
    if user.is_clinic_integration:
        return Caller(kind="integration", user=user, clinic_id=user.clinic_id)
    if user.is_patient:
        patient_id = patient_id_of(user)
        if patient_id is not None:
            return Caller(kind="patient", user=user, clinic_id=None, patient_id=patient_id)
    return None


def _parsed(body: dict[str, Any]) -> list[Entry]:
    """The Bundle's entries, after the R4 Bundle model parsed it (a malformed one is
    refused naming each entry and element in error)."""
    if body.get("resourceType") != "Bundle" or body.get("type") not in ("transaction", "batch"):
        raise FhirError(400, [Issue("POST a Bundle of type transaction or batch.", "invalid", ("Bundle.type",))])
    try:
        fhir_validated(body)
    except ValidationError as error:
        issues = []
        for problem in error.errors()[:20]:
            location = problem["loc"]
            where = "Bundle." + ".".join(str(part) for part in location)
            named = ""
            if len(location) > 1 and location[0] == "entry" and isinstance(location[1], int):
                index = location[1]
                full_url = ((body.get("entry") or [{}] * (index + 1))[index] or {}).get("fullUrl") or ""
                named = f"entry {index}" + (f" ({full_url})" if full_url else "") + ": "
                where = f"Bundle.entry[{index}]." + ".".join(str(part) for part in location[2:])
            issues.append(Issue(f"{named}{problem['msg']}", "structure", (where,)))
        raise FhirError(400, issues) from error
    entries = [
        Entry(index=index, full_url=str(item.get("fullUrl") or ""), resource=item.get("resource") or {})
        for index, item in enumerate(body.get("entry") or [])
    ]
    for entry in entries:
        if entry.type not in ACCEPTED:
            entry.problem(
                f"a {entry.type or 'missing'} resource is not taken here ({', '.join(ACCEPTED)}).", code="not-supported"
            )
    return entries


def bundle_process(*, body: dict[str, Any], user: User, audit: AuditContext | None) -> dict[str, Any]:
    """The transaction-response or batch-response Bundle; raises ``FhirError``
    (nothing stored) when a transaction is refused."""
    caller = caller_of(user)
    if caller is None:
        raise FhirError(403, [Issue("This account may not post Bundles.", "forbidden")])
    entries = _parsed(body)
    plans = plan_entries(entries=entries, caller=caller)
    if body["type"] == "transaction":
        return _transaction(entries=entries, plans=plans, caller=caller, audit=audit)
    return _batch(entries=entries, plans=plans, caller=caller, audit=audit)


def _ordered(plans: list[Plan]) -> list[Plan]:
    order = {"patient": 0, "enrolment": 1, "procedure": 1, "lab": 2, "check_in": 3}
    return sorted(plans, key=lambda plan: (order[plan.kind], plan.entry.index))


def _transaction(
    *, entries: list[Entry], plans: list[Plan], caller: Caller, audit: AuditContext | None
) -> dict[str, Any]:
    issues = [issue for entry in entries for issue in entry.issues]
    if issues:
        raise FhirError(_status_of(issues), issues)
    outcomes: dict[int, Outcome] = {}
    try:
        with transaction.atomic():
            context: dict[str, int] = {}
            for plan in _ordered(plans):
                outcomes[plan.entry.index] = apply_entry(
                    plan=plan, caller=caller, created_patients=context, audit=audit
                )
    except EntryRefused as refused:
        raise FhirError(refused.status, refused.entry.issues) from refused
    return _response_bundle("transaction-response", [outcomes[entry.index] for entry in entries])


def _batch(*, entries: list[Entry], plans: list[Plan], caller: Caller, audit: AuditContext | None) -> dict[str, Any]:
    outcomes: dict[int, Outcome] = {}
    context: dict[str, int] = {}
    for entry in entries:
        if entry.issues:
            outcomes[entry.index] = Outcome.refused(_status_of(entry.issues), entry.issues)
    for plan in _ordered(plans):
        if plan.entry.index in outcomes:
            continue
        try:
            with transaction.atomic():
                outcomes[plan.entry.index] = apply_entry(
                    plan=plan, caller=caller, created_patients=context, audit=audit
                )
        except EntryRefused as refused:
            outcomes[plan.entry.index] = Outcome.refused(refused.status, refused.entry.issues)
    return _response_bundle("batch-response", [outcomes[entry.index] for entry in entries])


def _status_of(issues: list[Issue]) -> int:
    if any(issue.code == "forbidden" for issue in issues):
        return 403
    return 400


def _response_bundle(bundle_type: str, outcomes: list[Outcome]) -> dict[str, Any]:
    entries = []
    for outcome in outcomes:
        response: dict[str, Any] = {"status": outcome.status}
        if outcome.location:
            response["location"] = outcome.location
        if outcome.issues:
            response["outcome"] = operation_outcome(outcome.issues)
        entries.append({"response": response})
    return fhir_validated({"resourceType": "Bundle", "type": bundle_type, "entry": entries})
