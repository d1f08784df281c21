"""Template context of every page: whether to say that staff two-factor sign-in is off
(only the embedded demo, DEBUG or a test run may turn it off): on the sign-in page and
on every staff page, never on a patient's."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def staff_sign_in(request: HttpRequest) -> dict[str, bool]:
    if settings.STAFF_TWO_FACTOR:
        return {"staff_two_factor_off": False}
    staff = getattr(getattr(request, "user", None), "is_clinic_staff", False)
    return {"staff_two_factor_off": bool(staff) or request.path.startswith("/login/")}
