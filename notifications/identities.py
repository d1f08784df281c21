"""Sending identities: which number (or Messaging Service) a clinic's SMS go from, and
which clinic a number that was texted belongs to.

Both answers are SQL expressions, not reads: ``sms_enqueue`` puts ``sender_expressions``
into the outbox row's INSERT and the webhook puts ``addressed_clinic_expression`` into
the inbound row's, so choosing costs no round trip (the check-in path's statement
budget, H18) and is decided in the same statement that stores the row, against the
identities as they are then. The outbox fields come back with RETURNING (they have a
``db_default``), so the caller's instance holds the values, not the expressions.
"""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.db.models import Case, CharField, Expression, IntegerField, Q, Subquery, Value, When
from django.db.models.functions import Coalesce

from notifications.models import SendingIdentity

__all__ = [
    "addressed_clinic_expression",
    "calling_code",
    "sender_expressions",
]


def calling_code(phone: str) -> str:
    """The country calling code of an E.164 number ("90", "994"), or "" if unknown."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ""
    return str(number.country_code or "")


def _candidates(*, clinic_id: int, to_phone: str, sent_from: str) -> tuple[Q, Expression]:
    """Which active identities of the clinic may send to ``to_phone``, and their order:
    the one the patient texted (``sent_from``), then the destination country's, then
    the default."""
    code = calling_code(to_phone)
    allowed = Q(is_default=True)
    rank: list[When] = []
    if sent_from:
        allowed |= Q(from_number=sent_from) | Q(messaging_service_sid=sent_from)
        rank += [When(from_number=sent_from, then=Value(0)), When(messaging_service_sid=sent_from, then=Value(0))]
    if code:
        allowed |= Q(country_code=code)
        rank.append(When(country_code=code, then=Value(1)))
    order = Case(*rank, default=Value(2), output_field=IntegerField())
    return Q(clinic_id=clinic_id, active=True) & allowed, order


def sender_expressions(*, clinic_id: int, to_phone: str, sent_from: str = "") -> dict[str, Expression]:
    """``from_number`` and ``messaging_service_sid`` for an outbox row's INSERT (one of
    the two empty): of the clinic's active identities, the one ``sent_from`` names
    (the number a patient texted, when the message answers them), else the one for
    the destination's country, else the clinic's default; with none of these, the
    installation's ``TWILIO_FROM_NUMBER`` / ``TWILIO_MESSAGING_SERVICE_SID`` as before
    identities existed."""
    condition, order = _candidates(clinic_id=clinic_id, to_phone=to_phone, sent_from=sent_from)
    best = SendingIdentity.objects.filter(condition).order_by(order, "id")
    return {
        field: Coalesce(Subquery(best.values(field)[:1]), Value(fallback), output_field=CharField(max_length=34))
        for field, fallback in (
            ("from_number", settings.TWILIO_FROM_NUMBER),
            ("messaging_service_sid", settings.TWILIO_MESSAGING_SERVICE_SID),
        )
    }


def addressed_clinic_expression(*, to_phone: str, messaging_service_sid: str = "") -> Expression | None:
    """The clinic whose identity an inbound SMS was sent to, for the inbound row's
    INSERT: the number texted, else the Messaging Service it came through. Inactive
    identities count (a patient replies to a number their phone remembers). None when
    there is nothing to look for."""
    matches = [Q(from_number=to_phone)] if to_phone else []
    if messaging_service_sid:
        matches.append(Q(messaging_service_sid=messaging_service_sid))
    if not matches:
        return None
    match = matches[0] if len(matches) == 1 else matches[0] | matches[1]
    order = Case(When(from_number=to_phone, then=Value(0)), default=Value(1), output_field=IntegerField())
    identity = SendingIdentity.objects.filter(match).order_by(order, "id").values("clinic_id")[:1]
    return Subquery(identity)
