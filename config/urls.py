from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from backend import api as backend_api
from backend import api_security
from backend.api_staff_me import StaffMeApi
from backend.health import healthz
from notifications import api as notifications_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("clinics", backend_api.ClinicApi, basename="clinic")
router.register("patients", backend_api.PatientApi, basename="patient")
router.register("episodes", backend_api.EpisodeApi, basename="episode")

api_v1 = [
    path("auth/token/", backend_api.StaffTokenApi.as_view(), name="auth-token"),
    path("auth/logout/", backend_api.TokenLogoutApi.as_view(), name="auth-logout"),
    path("auth/patient-token/", backend_api.PatientTokenApi.as_view(), name="auth-patient-token"),
    # Own sessions and tokens, and single-use websocket tickets (issue 20).
    path("auth/sessions/", api_security.CredentialListApi.as_view(), name="auth-sessions"),
    path("auth/sessions/<int:pk>/", api_security.SessionEndApi.as_view(), name="auth-session-end"),
    path("auth/tokens/<str:token_id>/", api_security.TokenEndApi.as_view(), name="auth-token-end"),
    path("ws-tickets/", api_security.WsTicketCreateApi.as_view(), name="ws-tickets"),
    path("staff/me/", StaffMeApi.as_view(), name="staff-me"),
    path(
        "patients/<int:pk>/enrollment-code/",
        notifications_api.EnrollmentCodeSendApi.as_view(),
        name="patient-enrollment-code",
    ),
    path("", include(router.urls)),
    # Each area keeps its own routes, so that its module owns them end to end.
    path("", include("followup.urls_api_plans")),
    path("", include("followup.urls_api_checkins")),
    path("", include("followup.urls_api_messages")),
    path("", include("followup.urls_api_push")),
    path("", include("notifications.urls_api")),
    path("", include("followup.data_rights.urls_api")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger's start-up script as a file (no inline script: CSP).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="backend/swagger_ui.html"),
        name="docs",
    ),
    path("api/v1/", include(api_v1)),
    # FHIR R4 (followup/fhir): application/fhir+json, errors as OperationOutcome.
    path("fhir/", include("followup.fhir.urls")),
    path("admin/", admin.site.urls),
    # The patient app (issue 18): sign-in with the SMS code, home, check-in, history, plan, messages.
    path("app/", include("followup.patient_app.urls")),
    path("webhooks/", include("notifications.urls_webhooks")),
    # Staff sign-in (two factors), own sessions, the admin's reset of a lost device.
    path("", include("backend.urls_pages_security")),
    path("", include("followup.urls_pages_plans")),
    path("", include("followup.urls_pages_dashboard")),
    path("", include("followup.data_rights.urls_pages")),
]

if settings.BENCH_ANCHOR:
    # The bare-framework anchor that `make bench` measures Vigil against (bench/anchor/).
    urlpatterns.append(path("bench/anchor/", include("bench.anchor.urls")))

# Errors that never reach a DRF view (no route matches, Django's own 400/403/500)
# answer in the API's error format under /api/ (backend.exceptions); pages keep HTML.
handler400 = "backend.exceptions.bad_request"
handler403 = "backend.exceptions.permission_denied"
handler404 = "backend.exceptions.page_not_found"
handler500 = "backend.exceptions.server_error"
