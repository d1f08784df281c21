"""Page routes of the live dashboard (see config/urls.py). The alert link in staff
pages (followup.escalation.staff_page_body) is /dashboard/alerts/<id>/."""

from django.urls import path

from followup.dashboard import replies, views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/metrics/", views.metrics, name="dashboard-metrics"),
    path("dashboard/alerts/<int:alert_id>/", views.alert_detail, name="dashboard-alert"),
    path("dashboard/alerts/<int:alert_id>/card/", views.alert_card, name="dashboard-alert-card"),
    path(
        "dashboard/alerts/<int:alert_id>/acknowledge/",
        views.alert_acknowledge_view,
        name="dashboard-alert-acknowledge",
    ),
    path("dashboard/alerts/<int:alert_id>/resolve/", views.alert_resolve_view, name="dashboard-alert-resolve"),
    path("dashboard/patients/<int:patient_id>/", views.patient_detail, name="dashboard-patient"),
    path("dashboard/patients/<int:patient_id>/reply/", replies.patient_reply, name="dashboard-patient-reply"),
]
