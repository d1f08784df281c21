"""One error format for the whole API (API.md, Conventions; documented for every
operation by ``backend.openapi``):

- 400: ``{"<field>": ["message", ...]}`` naming every bad field, query parameter or
  header (nested by question id for check-in answers); an error with no field is under
  ``non_field_errors``. A body that is not JSON at all is ``{"detail": "..."}``.
- 401, 403, 404, 409, 413, 429: ``{"detail": "..."}`` (a 409 may also name a field or
  carry a ``reason``); 429 has ``Retry-After``.

DRF's handler gives most of this. Here: a body too large is a 413, a Django
``ValidationError`` raised outside a serializer is a 400 in the same shape (not a 500),
and a bare list of messages is put under ``non_field_errors``. Errors that never reach
a DRF view (no route matches, Django's own 400/403/500) get the same JSON bodies under
``/api/`` through the ``handler*`` views below; pages keep Django's HTML ones.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

API_PREFIX = "/api/"


def _django_validation_error(error: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(error.message_dict)
    return exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: list(error.messages)})


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body too large."}, status=413)
    if isinstance(exc, DjangoValidationError):
        exc = _django_validation_error(exc)
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        # ``raise ValidationError("...")`` outside a serializer: a list, not an object.
        response.data = {api_settings.NON_FIELD_ERRORS_KEY: response.data}
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception, template_name: str = "400.html") -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception, template_name)


def permission_denied(request: HttpRequest, exception: Exception, template_name: str = "403.html") -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return defaults.permission_denied(request, exception, template_name)


def page_not_found(request: HttpRequest, exception: Exception, template_name: str = "404.html") -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception, template_name)


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request, template_name)
