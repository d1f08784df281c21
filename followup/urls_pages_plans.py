"""Page routes of plans (see config/urls.py): staff sign-in, the clinic's day, a
patient's plan and its forms, and the patient's web check-in behind an SMS link."""

from django.urls import path

from followup.views import audit_viewer, checkin_form, profile, quiet_hours, research_export, staff

urlpatterns = [
    # Sign-in ("plans-login") is backend.urls_pages_security: two factors (issue 20).
    path("logout/", staff.StaffLogoutView.as_view(), name="plans-logout"),
    # The language switch of the staff pages: Django's set_language, and for a
    # signed-in staff member the choice saved on the user.
    path("i18n/setlang/", profile.language_switch, name="set_language"),
    path("profile/", profile.profile, name="staff-profile"),
    # The clinic admin's audit viewer (issue 20).
    path("audit/", audit_viewer.audit_viewer, name="audit-viewer"),
    # The clinic admin's pseudonymised research export (issue 21).
    path("research-export/", research_export.research_export, name="research-export"),
    path("plans/today/", staff.today, name="plans-today"),
    path("plans/worklist/<int:item_id>/done/", staff.worklist_done, name="plans-worklist-done"),
    path("plans/patients/", staff.patient_search, name="plans-patients"),
    path("plans/patients/<int:patient_id>/", staff.patient_plan, name="plans-patient"),
    path("plans/patients/<int:patient_id>/enroll/", staff.enroll, name="plans-enroll"),
    path(
        "plans/patients/<int:patient_id>/quiet-hours/",
        quiet_hours.patient_quiet_hours,
        name="plans-patient-quiet-hours",
    ),
    path("plans/patients/<int:patient_id>/check-ins/", staff.check_in_add, name="plans-check-in-add"),
    path(
        "plans/patients/<int:patient_id>/check-ins/<int:check_in_id>/move/",
        staff.check_in_move,
        name="plans-check-in-move",
    ),
    path(
        "plans/patients/<int:patient_id>/check-ins/<int:check_in_id>/cancel/",
        staff.check_in_cancel,
        name="plans-check-in-cancel",
    ),
    path(
        "plans/patients/<int:patient_id>/check-ins/<int:check_in_id>/send-now/",
        staff.check_in_send_now,
        name="plans-check-in-send-now",
    ),
    path("plans/patients/<int:patient_id>/appointments/", staff.appointment_add, name="plans-appointment-add"),
    path(
        "plans/patients/<int:patient_id>/appointments/<int:appointment_id>/move/",
        staff.appointment_move,
        name="plans-appointment-move",
    ),
    path(
        "plans/patients/<int:patient_id>/appointments/<int:appointment_id>/cancel/",
        staff.appointment_cancel,
        name="plans-appointment-cancel",
    ),
    path("c/<str:token>/", checkin_form.patient_checkin_form, name="patient-checkin-form"),
]
