"""What a staff member's browser session may do, checked on every request.

- **Second factor**: with two-factor sign-in on, a staff session that did not pass it
  (one made before it was switched on, or by any way around the sign-in pages) is
  signed out, so no staff page, API call by cookie or websocket sees it.
- **Idle sign-out**: a staff session unused for the clinic's ``idle_timeout_minutes``
  is signed out, and the sign-in page says why. The time of the last request is kept
  in the session (written at most once a minute). A wall display is exempt.
- **Wall display**: it watches the dashboard and nothing else: every other page and
  every write (sign-out aside) is a 403.

API calls with a token are not sessions: they are judged by their token (which the
two-factor sign-in issued) in the DRF views.
"""

from __future__ import annotations

import re
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import ngettext

from backend.models import STAFF_ROLES, User
from backend.sessions import SEEN_EVERY, signed_in_session_seen
from backend.two_factor import two_factor_required

LAST_SEEN = "vigil_last_seen"

# What a wall display may open: the dashboard, the alert cards it fetches, static
# files, and the sign-in/sign-out pages.
_WALL_DISPLAY_PATHS = re.compile(r"^/(dashboard/(alerts/\d+/card/)?|static/.*|login/.*|logout/)$")


def session_idle_expired(session: Any, user: User) -> bool:
    """Has this staff session been unused for longer than the clinic allows?"""
    if not settings.STAFF_IDLE_SIGN_OUT or user.is_wall_display or user.clinic is None:
        return False
    last_seen = session.get(LAST_SEEN)
    if last_seen is None:
        return False
    return time.time() - float(last_seen) > user.clinic.idle_timeout_minutes * 60


def _idle_message(user: User) -> str:
    minutes = user.clinic.idle_timeout_minutes if user.clinic else 0
    return ngettext(
        "You were signed out after %(minutes)d minute without activity. Sign in again to continue.",
        "You were signed out after %(minutes)d minutes without activity. Sign in again to continue.",
        minutes,
    ) % {"minutes": minutes}


class StaffSessionGuardMiddleware:
    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or getattr(user, "role", None) not in STAFF_ROLES:
            return self.get_response(request)
        if two_factor_required(user) and not user.is_verified():
            logout(request)
            return self.get_response(request)
        if session_idle_expired(request.session, user):
            message = _idle_message(user)
            logout(request)
            messages.warning(request, message)
            if request.method == "GET" and not request.path.startswith("/api/"):
                return HttpResponseRedirect(f"{reverse('plans-login')}?next={request.get_full_path()}")
            return self.get_response(request)
        if settings.STAFF_IDLE_SIGN_OUT:
            self._seen(request)
        if user.is_wall_display and not self._wall_display_may(request):
            raise PermissionDenied
        return self.get_response(request)

    @staticmethod
    def _seen(request: HttpRequest) -> None:
        last = request.session.get(LAST_SEEN)
        now = time.time()
        if last is None or now - float(last) >= SEEN_EVERY.total_seconds():
            request.session[LAST_SEEN] = now
            signed_in_session_seen(session_key=request.session.session_key)

    @staticmethod
    def _wall_display_may(request: HttpRequest) -> bool:
        if not _WALL_DISPLAY_PATHS.match(request.path):
            return False
        if request.method in ("GET", "HEAD"):
            return True
        return request.path.startswith(("/logout/", "/login/"))
