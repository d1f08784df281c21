"""API routes of plans and scheduling (see config/urls.py): enrollments, scheduled
check-ins, appointments, the worklist and the patient's own view."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from followup.api.me import MeApi
from followup.api.plans import AppointmentApi, EnrollmentApi, ScheduledCheckInApi, WorklistApi
from followup.api.protocol_moves import ProtocolMoveApi

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("enrollments", EnrollmentApi, basename="enrollment")
router.register("scheduled-check-ins", ScheduledCheckInApi, basename="scheduled-check-in")
router.register("appointments", AppointmentApi, basename="appointment")
router.register("worklist", WorklistApi, basename="worklist-item")

urlpatterns = [
    path("me/", MeApi.as_view(), name="me"),
    path(
        "enrollments/<int:pk>/protocol-move/",
        ProtocolMoveApi.as_view(),
        name="enrollment-protocol-move",
    ),
    path("", include(router.urls)),
]
