"""URL routes of a patient's message thread (see config/urls.py): listed before
notifications' routes, the one view answers both the history and a nurse's reply."""

from django.urls import path

from followup.api import messages

urlpatterns = [
    path("patients/<int:pk>/messages/", messages.PatientMessagesApi.as_view(), name="patient-messages"),
]
