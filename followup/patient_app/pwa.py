"""What makes ``/app/`` installable: the web app manifest and the service worker.

The manifest names the app in the signed-in patient's language (the browser's for an
anonymous visitor on the sign-in page). The service worker (``sw.js``, a static file)
is served from ``/app/sw.js`` so that its scope is ``/app/`` and no wider; it is never
cached by the browser's HTTP cache, so a new version reaches phones on the next visit."""

from __future__ import annotations

import json

from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from followup.patient_app.access import signed_in_patient

THEME_COLOUR = "#0b5cad"
BACKGROUND_COLOUR = "#ffffff"
ICONS = (
    ("icon-192.png", "192x192", "any"),
    ("icon-512.png", "512x512", "any"),
    ("maskable-192.png", "192x192", "maskable"),
    ("maskable-512.png", "512x512", "maskable"),
)


def manifest_data(*, clinic_name: str | None) -> dict[str, object]:
    name = _("%(clinic)s: my follow-up") % {"clinic": clinic_name} if clinic_name else _("Vigil: my follow-up")
    return {
        "id": "/app/",
        "name": name,
        "short_name": _("My follow-up"),
        "description": _("Check-ins, advice and messages from your clinic."),
        "lang": translation.get_language(),
        "start_url": "/app/",
        "scope": "/app/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            {
                "src": static(f"followup/patient_app/icons/{file}"),
                "sizes": sizes,
                "type": "image/png",
                "purpose": purpose,
            }
            for file, sizes, purpose in ICONS
        ],
    }


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    try:
        patient = signed_in_patient(request)
    except PermissionDenied:
        patient = None
    language = patient.language if patient else translation.get_language_from_request(request)
    with translation.override(language):
        data = manifest_data(clinic_name=patient.clinic.name if patient else None)
    response = HttpResponse(json.dumps(data, ensure_ascii=False), content_type="application/manifest+json")
    response.headers["Vary"] = "Cookie, Accept-Language"
    add_never_cache_headers(response)
    return response


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    path = finders.find("followup/patient_app/sw.js")
    with open(path, encoding="utf-8") as handle:  # type: ignore[arg-type]
        response = HttpResponse(handle.read(), content_type="text/javascript; charset=utf-8")
    # The worker controls /app/ only: it is served there, and says so.
    response.headers["Service-Worker-Allowed"] = "/app/"
    add_never_cache_headers(response)
    return response
