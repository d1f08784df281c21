"""URL routes of one area (see config/urls.py)."""

from django.urls import path

from notifications import api

urlpatterns = [
    path("patients/<int:pk>/messages/", api.PatientMessageListApi.as_view(), name="patient-messages"),
]
