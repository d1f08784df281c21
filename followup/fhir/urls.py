"""/fhir/: the FHIR R4 API (API.md, "FHIR R4")."""

from django.urls import path, re_path

from followup.fhir import views

app_name = "fhir"

urlpatterns = [
    path("metadata", views.MetadataApi.as_view(), name="metadata"),
    path("Patient/<int:pk>", views.PatientReadApi.as_view(), name="patient"),
    path("Patient/<int:pk>/$everything", views.PatientEverythingApi.as_view(), name="patient-everything"),
    path("Questionnaire/<int:pk>", views.QuestionnaireReadApi.as_view(), name="questionnaire"),
    path("Bundle", views.BundleApi.as_view(), name="bundle"),
    path("", views.BundleApi.as_view(), name="system"),
    *[
        path(resource_type, views.SearchApi.as_view(resource_type=resource_type), name=resource_type.lower())
        for resource_type in ("Observation", "QuestionnaireResponse", "Flag", "Appointment", "CarePlan")
    ],
    re_path(r"^.*$", views.not_found),
]
