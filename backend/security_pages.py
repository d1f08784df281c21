"""Staff pages about sign-in: a member's own sessions and tokens (ended one by one),
new recovery codes, and the clinic admin's page to reset a member's lost authenticator,
issue a one-time enrolment code or lift a lock-out (all audited). Doorways over ``backend.sessions``,
``backend.two_factor`` and ``backend.lockout``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from backend.audit import AuditContext, audit_record
from backend.enrolment_codes import enrolment_code_issue, enrolment_code_live
from backend.lockout import lockout_clear, lockout_is_locked
from backend.models import AuditAction, Role, User
from backend.sessions import signed_in_session_end, signed_in_session_list, token_end, token_list
from backend.sign_in_views import RECOVERY_CODES
from backend.two_factor import recovery_codes_create, recovery_codes_left, totp_device_confirmed, two_factor_reset

View = Callable[..., HttpResponse]


def _staff_page(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not getattr(request.user, "is_clinic_staff", False):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _admin_page(view: View) -> View:
    @wraps(view)
    @_staff_page
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.role != Role.ADMIN:  # type: ignore[union-attr]
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@_staff_page
def own_sessions(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    context = {
        "sessions": signed_in_session_list(user=user),
        "current_key": request.session.session_key,
        "tokens": token_list(user=user, current=None),
        "has_authenticator": totp_device_confirmed(user) is not None,
        "recovery_codes_left": recovery_codes_left(user),
    }
    return render(request, "backend/sign_in/sessions.html", context)


@require_POST
@_staff_page
def own_session_end(request: HttpRequest, session_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not signed_in_session_end(user=user, session_id=session_id, audit=AuditContext.of(request)):
        raise Http404
    messages.success(request, _("The session is ended."))
    return HttpResponseRedirect(reverse("own-sessions"))


@require_POST
@_staff_page
def own_token_end(request: HttpRequest, token_id: str) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not token_end(user=user, token_id_=token_id, audit=AuditContext.of(request)):
        raise Http404
    messages.success(request, _("The API token is revoked."))
    return HttpResponseRedirect(reverse("own-sessions"))


@require_POST
@_staff_page
def own_recovery_codes_renew(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if totp_device_confirmed(user) is None:
        raise Http404
    codes = recovery_codes_create(user)
    audit_record(
        actor=user,
        action=AuditAction.CREATE,
        object_type="recovery_codes",
        objects=[(user.pk, None)],
        clinic_id=user.clinic_id,
        audit=AuditContext.of(request),
    )
    request.session[RECOVERY_CODES] = {"codes": codes, "next": reverse("own-sessions")}
    return HttpResponseRedirect(reverse("sign-in-recovery-codes"))


def _clinic_member(request: HttpRequest, user_id: int) -> User:
    admin: User = request.user  # type: ignore[assignment]
    member = User.objects.filter(pk=user_id, clinic_id=admin.clinic_id).first()
    if member is None or not member.is_clinic_staff:
        raise Http404
    return member


@require_GET
@_admin_page
def staff_security(request: HttpRequest) -> HttpResponse:
    admin: User = request.user  # type: ignore[assignment]
    members = User.objects.filter(clinic_id=admin.clinic_id, is_active=True).exclude(role=Role.PATIENT)
    rows = [
        {
            "member": member,
            "has_authenticator": totp_device_confirmed(member) is not None,
            "locked": lockout_is_locked(username=member.get_username()),
            "enrolment_code_live": enrolment_code_live(member),
        }
        for member in members.order_by("username")
    ]
    return render(request, "backend/sign_in/staff_security.html", {"rows": rows})


def _enrolment_code_shown(request: HttpRequest, member: User) -> HttpResponse:
    """A new enrolment code for the member, shown to the admin this once (never cached)."""
    issued = enrolment_code_issue(user=member, by=request.user, audit=AuditContext.of(request))  # type: ignore[arg-type]
    context = {"member": member, "code": issued.code, "expires_at": issued.expires_at}
    response = render(request, "backend/sign_in/enrolment_code.html", context)
    add_never_cache_headers(response)
    return response


@require_POST
@_admin_page
def staff_two_factor_reset(request: HttpRequest, user_id: int) -> HttpResponse:
    """Reset a lost authenticator; the member's enrolment code for their new one is
    shown at once."""
    member = _clinic_member(request, user_id)
    two_factor_reset(user=member, by=request.user, audit=AuditContext.of(request))  # type: ignore[arg-type]
    messages.success(
        request,
        _("Two-factor sign-in of %(username)s is reset: they set up their app again at their next sign-in.")
        % {"username": member.get_username()},
    )
    return _enrolment_code_shown(request, member)


@require_POST
@_admin_page
def staff_enrolment_code(request: HttpRequest, user_id: int) -> HttpResponse:
    """A one-time enrolment code for a member without an authenticator (a new one
    replaces an earlier one)."""
    member = _clinic_member(request, user_id)
    if totp_device_confirmed(member) is not None:
        messages.error(
            request,
            _("%(username)s has an authenticator app: reset their two-factor sign-in first.")
            % {"username": member.get_username()},
        )
        return HttpResponseRedirect(reverse("staff-security"))
    return _enrolment_code_shown(request, member)


@require_POST
@_admin_page
def staff_unlock(request: HttpRequest, user_id: int) -> HttpResponse:
    member = _clinic_member(request, user_id)
    admin: User = request.user  # type: ignore[assignment]
    lockout_clear(username=member.get_username())
    audit_record(
        actor=admin,
        action=AuditAction.UPDATE,
        object_type="sign_in_lock",
        objects=[(member.pk, None)],
        clinic_id=admin.clinic_id,
        audit=AuditContext.of(request),
    )
    messages.success(request, _("%(username)s can sign in again.") % {"username": member.get_username()})
    return HttpResponseRedirect(reverse("staff-security"))
