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
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        if limit is not None and length > limit:
            return JsonResponse(
                {"detail": f"Request body too large: {length} bytes; the limit is {limit}."},
                status=413,
            )
        return self.get_response(request)


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
