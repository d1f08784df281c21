"""Who may call what. Object-level scoping is done by querysets (see backend.scoping):
an object outside the caller's clinic or outside the patient's own data is a 404."""

from rest_framework.permissions import BasePermission

from backend.token_auth import patient_id_of


class IsClinicStaff(BasePermission):
    """Active staff attached to a clinic. A patient token here is a 403."""

    message = "This endpoint is for clinic staff."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        # A wall display watches the dashboard page and nothing else: no API at all.
        return bool(user and user.is_authenticated and user.is_clinic_staff and not user.is_wall_display)


class IsPatient(BasePermission):
    message = "This endpoint is for patients."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        # The id only (remembered with the token): the row is read where it is needed.
        return bool(user and user.is_authenticated and user.is_patient and patient_id_of(user) is not None)


class IsClinicStaffOrPatient(BasePermission):
    message = "Sign in as clinic staff or as a patient."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        return IsClinicStaff().has_permission(request, view) or IsPatient().has_permission(request, view)


class IsClinicIntegration(BasePermission):
    """A clinic's hospital-system service account (role ``integration``): for the
    endpoints it posts to (lab results and enrolments, POST /fhir/Bundle) and nothing
    else. Staff and patient tokens are a 403 here, as the service account's is on
    every other endpoint (it is neither staff nor patient)."""

    message = "This endpoint is for a clinic's hospital system."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "is_clinic_integration", False))
