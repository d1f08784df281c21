"""The patient app's own door for a check-in: ``POST /app/api/check-ins/``.

The same submission as ``POST /api/v1/check-ins/`` (validation, rules, alerts, the
rate limit, Idempotency-Key), with the one difference the app needs: answers queued on
the phone while it was offline carry ``taken_at``, the time they were given, so the
rules judge them against the history as it stood then (at most three days back:
followup/services/checkin_validation.py). The public API keeps its contract, where a
patient's check-in is taken when it arrives. Only the app's session cookie, with its
CSRF token, is accepted here: the app's pages are signed in with it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.authentication import SessionAuthentication

from backend.permissions import IsPatient
from followup.api.checkins import CheckInsApi


# The app's private door: clients of the public API use POST /api/v1/check-ins/.
@extend_schema_view(post=extend_schema(exclude=True))
class AppCheckInsApi(CheckInsApi):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsPatient]
    http_method_names = ["post", "options"]
    patient_may_date_answers = True
