"""The FHIR R4 doorways under /fhir/: parse, check permission, call one selector or
service, shape the resource, audit the read. Every error is an OperationOutcome."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction
from backend.permissions import IsClinicIntegration, IsClinicStaffOrPatient
from backend.token_auth import patient_id_of
from backend.write_batch import write_batch
from followup.fhir import codes, reads
from followup.fhir.bundles import bundle_process
from followup.fhir.capability import capability_statement
from followup.fhir.outcome import FhirError, Issue, operation_outcome, simple_error
from followup.fhir.questionnaire import questionnaire_resource
from followup.fhir.resources import patient_resource
from followup.services.protocols import protocol_definition


class FhirJSONRenderer(JSONRenderer):
    media_type = codes.FHIR_JSON
    format = "fhir"


class FhirJSONParser(JSONParser):
    media_type = codes.FHIR_JSON


def _outcome_response(error: FhirError) -> Response:
    return Response(operation_outcome(error.issues), status=error.status, content_type=codes.FHIR_JSON)


def fhir_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, FhirError):
        return _outcome_response(exc)
    if isinstance(exc, RequestDataTooBig):
        return _outcome_response(FhirError(413, [Issue("Request body too large.", "too-costly")]))
    if isinstance(exc, exceptions.APIException):
        code = exc.status_code
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            code = status.HTTP_401_UNAUTHORIZED
        response = _outcome_response(simple_error(code, str(exc.detail)))
        if code == 401:
            response["WWW-Authenticate"] = 'Token realm="api"'
        return response
    return None


class FhirApi(APIView):
    renderer_classes = [FhirJSONRenderer, JSONRenderer]
    parser_classes = [FhirJSONParser, JSONParser]
    permission_classes = [IsClinicStaffOrPatient]
    # Out of the OpenAPI schema: a FHIR server describes itself with its
    # CapabilityStatement (GET /fhir/metadata) and FHIR's own resource definitions.
    schema = None

    def get_exception_handler(self):  # type: ignore[no-untyped-def]
        return fhir_exception_handler

    def fhir(self, resource: dict[str, Any], code: int = 200) -> Response:
        return Response(resource, status=code, content_type=codes.FHIR_JSON)

    def audit_read(self, objects_by_type: dict[str, list[tuple[object, int | None]]]) -> None:
        context = AuditContext.of(self.request._request)
        clinic_id = getattr(self.request.user, "clinic_id", None)
        with write_batch():  # one INSERT for every row read
            for object_type, objects in objects_by_type.items():
                if objects:
                    audit_record(
                        actor=self.request.user,
                        action=AuditAction.READ,
                        object_type=object_type,
                        objects=objects,
                        clinic_id=clinic_id,
                        audit=context,
                    )

    def patient_or_404(self, patient_id: int) -> Any:
        patient = reads.patient_for(user=self.request.user, patient_id=patient_id)
        if patient is None:
            # Another clinic's or another patient's reads as unknown (H12).
            raise simple_error(404, f"Patient/{patient_id} is not known.")
        return patient


def searchset(request: Request, resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A searchset Bundle; each entry's fullUrl is absolute, as Bundle wants."""
    base = request.build_absolute_uri("/fhir/")
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": timezone.now().isoformat(timespec="seconds"),
        "total": len(resources),
        "entry": [
            {"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


class MetadataApi(FhirApi):
    permission_classes: list[Any] = []
    authentication_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return self.fhir(capability_statement())


class PatientReadApi(FhirApi):
    def get(self, request: Request, pk: int) -> Response:
        patient = self.patient_or_404(pk)
        self.audit_read({"patient": [(patient.pk, patient.pk)]})
        return self.fhir(patient_resource(patient))


class PatientEverythingApi(FhirApi):
    """Patient/{id}/$everything: the patient and every resource about them, one
    statement per resource type whatever the length of the history."""

    def get(self, request: Request, pk: int) -> Response:
        patient = self.patient_or_404(pk)
        rows = reads.patient_rows(patient=patient)
        resources = [patient_resource(patient), *reads.patient_resources(rows)]
        self.audit_read({"patient": [(patient.pk, patient.pk)], **rows.audit_objects()})
        return self.fhir(searchset(request, resources))


def _patient_param(request: Request) -> int:
    """``patient=123`` or ``patient=Patient/123``; a patient's token may leave it out."""
    raw = request.query_params.get("patient", "")
    if not raw and request.user.is_patient:
        own = patient_id_of(request.user)
        if own is not None:
            return own
    value = raw.removeprefix("Patient/")
    if not value.isdigit():
        raise FhirError(
            400, [Issue("Search by patient: give patient=<id> or patient=Patient/<id>.", "required", ("patient",))]
        )
    return int(value)


class SearchApi(FhirApi):
    """GET /fhir/<Type>?patient=<id>: a searchset of one patient's resources of a type.
    An unknown patient, or one the caller may not see, gives an empty searchset (a
    search never tells whether a patient exists)."""

    resource_type = ""

    def get(self, request: Request) -> Response:
        patient = reads.patient_for(user=request.user, patient_id=_patient_param(request))
        if patient is None:
            return self.fhir(searchset(request, []))
        types = (self.resource_type,)
        rows = reads.patient_rows(patient=patient, types=types)
        resources = reads.patient_resources(rows, types=types)
        audited = rows.audit_objects()
        keep = {
            "Observation": ("observation", "check_in"),
            "QuestionnaireResponse": ("check_in",),
            "Flag": ("alert",),
            "Appointment": ("appointment",),
            "CarePlan": ("enrollment",),
        }[self.resource_type]
        self.audit_read({name: audited[name] for name in keep})
        return self.fhir(searchset(request, resources))


class QuestionnaireReadApi(FhirApi):
    """A protocol version as a Questionnaire (protocol data, no patient's). Staff and
    patients read it; the service account reads nothing, this included."""

    def get(self, request: Request, pk: int) -> Response:
        version = reads.protocol_version_get(version_id=pk)
        if version is None:
            raise simple_error(404, f"Questionnaire/{pk} is not known.")
        return self.fhir(questionnaire_resource(version, protocol_definition(version)))


class BundleApi(FhirApi):
    """POST /fhir/Bundle: a transaction (all or nothing) or a batch (entry by entry)
    of lab Observations, enrolments (Patient + Encounter/Procedure) and check-ins
    (QuestionnaireResponse). Who may post which entry is the service's decision
    (``followup.fhir.bundles``)."""

    permission_classes = [IsClinicIntegration | IsClinicStaffOrPatient]

    def post(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, dict):
            raise simple_error(400, "The body must be a FHIR Bundle (a JSON object).")
        reply = bundle_process(body=body, user=request.user, audit=AuditContext.of(request._request))
        return self.fhir(reply)


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Anything else under /fhir/ (a type or operation Vigil does not serve)."""
    outcome = operation_outcome([Issue("No such FHIR endpoint on this server.", "not-supported")])
    return JsonResponse(outcome, status=404, content_type=codes.FHIR_JSON)
