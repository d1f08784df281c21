"""API routes of a patient's data rights (under /api/v1/; see config/urls.py)."""

from django.urls import path

from followup.data_rights import api

urlpatterns = [
    path("patients/<int:pk>/export/", api.PatientExportApi.as_view(), name="patient-export"),
    path("patients/<int:pk>/erasure/", api.PatientErasureApi.as_view(), name="patient-erasure"),
    path(
        "patients/<int:pk>/consent-withdrawal/",
        api.PatientConsentWithdrawalApi.as_view(),
        name="patient-consent-withdrawal",
    ),
]
