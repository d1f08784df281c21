"""The session's user read with their clinic in the same query.

Every staff page needs the clinic: the staff language falls back to the clinic's
(``backend.middleware.StaffLanguageMiddleware``), and the pages scope to it. Django's
``ModelBackend`` reads the user alone, so the clinic cost each page a second query."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from backend.models import User


class ClinicUserBackend(ModelBackend):
    def get_user(self, user_id: Any) -> User | None:
        user = User._default_manager.select_related("clinic").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
