"""Page routes of staff sign-in (see config/urls.py): the two steps of signing in and
the enrolment of an authenticator app, a member's own sessions and tokens, and the
clinic admin's page for lost devices and locked accounts."""

from django.urls import path

from backend import security_pages, sign_in_views

urlpatterns = [
    path("login/", sign_in_views.sign_in_password, name="plans-login"),
    path("login/code/", sign_in_views.sign_in_code, name="sign-in-code"),
    path("login/enrol/", sign_in_views.sign_in_enrol, name="sign-in-enrol"),
    path("login/recovery-codes/", sign_in_views.sign_in_recovery_codes, name="sign-in-recovery-codes"),
    path("profile/sessions/", security_pages.own_sessions, name="own-sessions"),
    path("profile/sessions/<int:session_id>/end/", security_pages.own_session_end, name="own-session-end"),
    path("profile/tokens/<str:token_id>/end/", security_pages.own_token_end, name="own-token-end"),
    path("profile/recovery-codes/", security_pages.own_recovery_codes_renew, name="own-recovery-codes-renew"),
    path("profile/staff-sign-in/", security_pages.staff_security, name="staff-security"),
    path(
        "profile/staff-sign-in/<int:user_id>/reset/",
        security_pages.staff_two_factor_reset,
        name="staff-two-factor-reset",
    ),
    path("profile/staff-sign-in/<int:user_id>/unlock/", security_pages.staff_unlock, name="staff-unlock"),
    path(
        "profile/staff-sign-in/<int:user_id>/enrolment-code/",
        security_pages.staff_enrolment_code,
        name="staff-enrolment-code",
    ),
]
