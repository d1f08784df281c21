from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation

from backend.staff_texts import staff_language


class BodySizeLimitMiddleware:
    """Refuse a request body over the configured size with 413 before anything reads it."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refusal(request, 400, "Invalid Content-Length header.")
        if limit is not None and length > limit:
            return _refusal(request, 413, f"Request body too large: {length} bytes; the limit is {limit}.")
        return self.get_response(request)


def _refusal(request: HttpRequest, status: int, message: str) -> JsonResponse:
    if request.path.startswith("/fhir/"):
        # FHIR clients read every error as an OperationOutcome (followup/fhir).
        code = "too-costly" if status == 413 else "invalid"
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": message}],
        }
        return JsonResponse(outcome, status=status, content_type="application/fhir+json")
    return JsonResponse({"detail": message}, status=status)


class StaffLanguageMiddleware:
    """Activate the signed-in staff member's stored language for the whole request.

    Placed after AuthenticationMiddleware (it needs ``request.user``) and after
    LocaleMiddleware, whose choice (cookie, Accept-Language) it overrides: the stored
    language follows the person, so a nurse signing in on a fresh browser reads hers.
    Signed-out visitors and patients keep LocaleMiddleware's choice; the patient
    pages pick the patient's own language themselves."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "is_clinic_staff", False):
            language = staff_language(user)
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
