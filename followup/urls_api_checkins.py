"""URL routes of the check-in path: check-ins, alerts, observations, protocols."""

from django.urls import path

from followup.api import alerts, checkins, observations, protocols

urlpatterns = [
    path("check-ins/", checkins.CheckInsApi.as_view(), name="check-ins"),
    path("check-ins/<int:pk>/", checkins.CheckInDetailApi.as_view(), name="check-in-detail"),
    path("alerts/", alerts.AlertListApi.as_view(), name="alerts"),
    path("alerts/metrics/", alerts.AlertMetricsApi.as_view(), name="alert-metrics"),
    path("alerts/<int:pk>/", alerts.AlertDetailApi.as_view(), name="alert-detail"),
    path("alerts/<int:pk>/acknowledge/", alerts.AlertAcknowledgeApi.as_view(), name="alert-acknowledge"),
    path("alerts/<int:pk>/resolve/", alerts.AlertResolveApi.as_view(), name="alert-resolve"),
    path("observations/", observations.ObservationsApi.as_view(), name="observations"),
    path("protocols/", protocols.ProtocolListApi.as_view(), name="protocols"),
    path("protocols/<slug:slug>/", protocols.ProtocolDetailApi.as_view(), name="protocol-detail"),
]
