"""manage.py staff_enrolment_code <username>

Issues the one-time code a member of staff needs to set up their authenticator app
(``backend.enrolment_codes``) and prints it once. For the clinic's first admin, who has
no admin to issue theirs on the staff sign-in page; audited like the page's (with no
actor: the person at the server's console)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.enrolment_codes import enrolment_code_issue
from backend.models import User
from backend.two_factor import totp_device_confirmed


class Command(BaseCommand):
    help = "Issue a member of staff's one-time enrolment code for two-factor sign-in (printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the member's exact username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None or not user.is_clinic_staff:
            raise CommandError(f"no active member of staff {options['username']!r}")
        if totp_device_confirmed(user) is not None:
            raise CommandError("this member has an authenticator app: the clinic admin resets it first")
        issued = enrolment_code_issue(user=user, by=None, audit=None)
        self.stderr.write(f"Enrolment code of {user.username}, valid until {issued.expires_at.isoformat()}:")
        self.stdout.write(issued.code)
