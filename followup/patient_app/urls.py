"""``/app/``: the patient app's pages (included from config/urls.py)."""

from django.urls import path

from followup.patient_app import actions, checkin, history, pages, pwa, sign_in
from followup.patient_app.checkin_api import AppCheckInsApi

urlpatterns = [
    path("", pages.home, name="patient-app-home"),
    path("sign-in/", sign_in.sign_in, name="patient-app-sign-in"),
    path("sign-out/", sign_in.sign_out, name="patient-app-sign-out"),
    path("check-in/", checkin.check_in, name="patient-app-check-in"),
    path("check-ins/<int:pk>/", checkin.check_in_result, name="patient-app-result"),
    # Answers queued offline keep the time they were given (the public API's do not).
    path("api/check-ins/", AppCheckInsApi.as_view(), name="patient-app-check-in-api"),
    path("history/", history.history, name="patient-app-history"),
    path("plan/", pages.plan, name="patient-app-plan"),
    path(
        "appointments/<int:pk>/confirm/",
        actions.appointment_answer,
        {"answer": "confirm"},
        name="patient-app-confirm",
    ),
    path(
        "appointments/<int:pk>/decline/",
        actions.appointment_answer,
        {"answer": "decline"},
        name="patient-app-decline",
    ),
    path("messages/", actions.thread, name="patient-app-messages"),
    # Installable and offline (followup/patient_app/pwa.py): the worker's scope is /app/.
    path("manifest.webmanifest", pwa.manifest, name="patient-app-manifest"),
    path("sw.js", pwa.service_worker, name="patient-app-service-worker"),
]
