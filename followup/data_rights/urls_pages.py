"""Page routes of a patient's data rights (clinic admins; see config/urls.py)."""

from django.urls import path

from followup.data_rights import views

urlpatterns = [
    path("dashboard/data-rights/", views.data_rights_due, name="data-rights-due"),
    path("dashboard/patients/<int:patient_id>/data-rights/", views.data_rights_patient, name="data-rights-patient"),
    path(
        "dashboard/patients/<int:patient_id>/data-rights/export/",
        views.data_rights_export,
        name="data-rights-export",
    ),
    path("dashboard/patients/<int:patient_id>/data-rights/erase/", views.data_rights_erase, name="data-rights-erase"),
    path(
        "dashboard/patients/<int:patient_id>/data-rights/consent-withdrawal/",
        views.data_rights_consent_withdraw,
        name="data-rights-consent-withdrawal",
    ),
]
