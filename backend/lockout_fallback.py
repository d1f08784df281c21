"""The sign-in lock-out's count when Redis does not answer: the failed attempts in the
audit trail (``backend.sign_in`` writes a row for every attempt, whatever Redis does).

Per account: the account's failed rows in the window after its last full sign-in,
admin unlock or two-factor reset (each of which clears the Redis count too). Per
address: the failed rows from that address in the window (a sign-in clears nothing
there, as in Redis). A username typed that names no account has no account count (its
rows name no one); its address is still counted."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min, Q, QuerySet

from backend.models import AuditAction, AuditRecord, User

# The outcomes that count as failures (``backend.sign_in.Outcome``): a refused attempt
# on a locked account, a missing authenticator or a role not allowed is not a guess.
FAILED_OUTCOMES = ("sign_in.bad_password", "sign_in.bad_code", "sign_in.bad_enrolment_code")


def _clearing(user_ids: list[int]) -> QuerySet[AuditRecord]:
    """The audit rows that clear an account's count: a full sign-in, the admin's
    unlock, a two-factor reset."""
    ids = [str(pk) for pk in user_ids]
    return AuditRecord.objects.filter(
        Q(action=AuditAction.LOGIN, object_type="sign_in.succeeded", actor_user_id__in=user_ids)
        | Q(action=AuditAction.UPDATE, object_type="sign_in_lock", object_id__in=ids)
        | Q(action=AuditAction.DELETE, object_type="two_factor_device", object_id__in=ids)
    )


def _account_after(user_ids: list[int]) -> int:
    """The id of the account's last audit row that clears its count (0 if none)."""
    last = _clearing(user_ids).order_by("-id").values_list("id", flat=True).first()
    return int(last or 0)


def _user_ids(username: str) -> list[int]:
    return list(User.objects.filter(username__iexact=username.strip()).values_list("pk", flat=True))


def account_cleared_at(*, username: str) -> datetime | None:
    """When the account named ``username`` last had its count cleared (None: never, or
    no such account)."""
    user_ids = _user_ids(username)
    if not user_ids:
        return None
    return _clearing(user_ids).order_by("-id").values_list("at", flat=True).first()


def audit_failures(*, username: str | None, address: str | None, since: datetime) -> tuple[int, datetime | None]:
    """(failed attempts since ``since``, the oldest one's time) of the account named
    ``username`` (as typed: case and surrounding spaces do not matter), or else of
    ``address``."""
    rows = AuditRecord.objects.filter(action=AuditAction.LOGIN, object_type__in=FAILED_OUTCOMES, at__gte=since)
    if username is not None:
        user_ids = _user_ids(username)
        if not user_ids:
            return 0, None
        rows = rows.filter(actor_user_id__in=user_ids, id__gt=_account_after(user_ids))
    elif address:
        rows = rows.filter(ip_address=address)
    else:
        rows = rows.filter(ip_address__isnull=True)
    found = rows.aggregate(count=Count("id"), oldest=Min("at"))
    return int(found["count"]), found["oldest"]
