"""A patient's check-ins beyond their protocol's sane rate are refused (API.md,
"Check-ins": 429 with ``Retry-After``), and the clinic hears of it once (issue 17).

What counts: check-ins the patient sends, from the app (``POST /api/v1/check-ins/``
with a patient token) and the web form behind an SMS link, in any rolling hour
(``schedule.max_check_ins_per_hour`` of the protocol version the patient's check-ins
are judged by). Not limited, not counted:
- a nurse entering answers from a phone call (or an imported history): staff entry
  is deliberate, and refusing it would lose what the patient said;
- the end of an SMS conversation: a conversation only starts for a scheduled
  check-in (the beat or a nurse's send-now, never the patient), it ends in one
  check-in, and its red answers were already judged as they came; refusing its
  ending would drop answers the patient gave.

Only a stored check-in keeps its slot: one refused for bad input (400), a conflict
(409) or a failure gives it back, so a patient correcting a typo is not locked out.
An Idempotency-Key replay never gets here (``backend.idempotency`` answers it first
with the stored response): it is not a new check-in.

The limit is the protocol's, read without a database statement: the check-in path
is counted in round trips. Redis remembers each patient's limit beside the count,
from the protocol version of their last stored check-in; until one is remembered
the default (12, the loader's) applies. A Redis that does not answer lets the
check-in through, uncounted: losing a red answer is worse than a missed limit.

A burst of refusals puts the patient on the nurses' worklist once (a patient or an
app stuck in a loop is a thing to call about): the first refusal after an hour
without any opens an item, or bumps the open one (``worklist_check_in_burst_record``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis

from backend import sliding_window
from backend.audit import AuditContext
from backend.models import Patient, User
from followup.models import CheckIn
from followup.protocols.definition import DEFAULT_MAX_CHECK_INS_PER_HOUR
from followup.services.checkins import CheckInResult, checkin_submit
from followup.services.protocols import protocol_definition
from followup.services.worklist import worklist_check_in_burst_record

logger = logging.getLogger(__name__)

SCOPE = "check-in-rate"
WINDOW = timedelta(hours=1)
# A burst ends an hour after its last refusal; the next refusal is news again.
BURST_QUIET = timedelta(hours=1)
LIMITED_CHANNELS = frozenset({CheckIn.Source.APP, CheckIn.Source.WEB})


class CheckInRateExceeded(Exception):
    """Refused: ``retry_after`` seconds until a slot frees; ``limit`` an hour."""

    def __init__(self, *, retry_after: int, limit: int) -> None:
        super().__init__(f"check-in rate exceeded: retry after {retry_after} s")
        self.retry_after = retry_after
        self.limit = limit


@dataclass
class CheckInSlot:
    """The slot a check-in holds while it is stored; ``keep`` once it is."""

    patient_id: int
    member: str | None  # None: not counted (a channel not limited, or Redis away)
    remembered_limit: int | None = None
    kept: bool = False

    def keep(self, *, check_in: CheckIn) -> None:
        self.kept = True
        if self.member is None:
            return
        # Cached by version: the check-in path loaded it to judge the answers.
        limit = protocol_definition(check_in.protocol_version).schedule.max_check_ins_per_hour
        if limit != self.remembered_limit:
            _quietly(
                sliding_window.limit_remember,
                scope=SCOPE,
                subject=str(self.patient_id),
                limit=limit,
                window=WINDOW,
            )


def checkin_submit_within_rate(
    *,
    patient_id: int,
    answers: object,
    scheduled_check_in_id: int | None = None,
    channel: str,
    submitted_by: User | None = None,
    taken_at: datetime | None = None,
    rate_limit: int | None = None,
    audit: AuditContext | None = None,
) -> CheckInResult:
    """``checkin_submit`` for the doorways a patient uses: raises
    ``CheckInRateExceeded`` (nothing stored) past the rate, ``CheckInRejected`` as
    ``checkin_submit`` does. ``rate_limit``: the protocol's, when the caller already
    knows it (the web form has the definition at hand)."""
    with checkin_rate_slot(patient_id=patient_id, channel=channel, limit=rate_limit, audit=audit) as slot:
        result = checkin_submit(
            patient_id=patient_id,
            answers=answers,
            scheduled_check_in_id=scheduled_check_in_id,
            channel=channel,
            submitted_by=submitted_by,
            taken_at=taken_at,
            audit=audit,
        )
        slot.keep(check_in=result.check_in)
    return result


@contextmanager
def checkin_rate_slot(
    *, patient_id: int, channel: str, limit: int | None = None, audit: AuditContext | None = None
) -> Iterator[CheckInSlot]:
    """Hold a slot of the patient's rate around storing one check-in; raise
    ``CheckInRateExceeded`` (nothing to store) when there is none."""
    if channel not in LIMITED_CHANNELS:
        yield CheckInSlot(patient_id=patient_id, member=None)
        return
    slot = _take(patient_id=patient_id, limit=limit, audit=audit)
    try:
        yield slot
    finally:
        if slot.member is not None and not slot.kept:
            _quietly(sliding_window.slot_release, scope=SCOPE, subject=str(patient_id), member=slot.member)


def _take(*, patient_id: int, limit: int | None, audit: AuditContext | None) -> CheckInSlot:
    subject = str(patient_id)
    try:
        admission = sliding_window.slot_take(
            scope=SCOPE,
            subject=subject,
            default_limit=limit or DEFAULT_MAX_CHECK_INS_PER_HOUR,
            window=WINDOW,
            quiet=BURST_QUIET,
        )
    except redis.RedisError as error:
        logger.warning("check-in rate not checked (Redis: %s): check-in let through", type(error).__name__)
        return CheckInSlot(patient_id=patient_id, member=None)
    if admission.admitted:
        remembered = admission.limit if admission.limit_remembered else None
        return CheckInSlot(patient_id=patient_id, member=admission.member, remembered_limit=remembered)
    if admission.first_refusal:
        try:
            patient = Patient.objects.select_related("clinic").get(pk=patient_id)
            worklist_check_in_burst_record(patient=patient, limit=admission.limit, audit=audit)
        except Exception:
            # Not recorded: the next refusal tries again rather than the burst going unseen.
            _quietly(sliding_window.burst_forget, scope=SCOPE, subject=subject)
            raise
    raise CheckInRateExceeded(retry_after=admission.retry_after, limit=admission.limit)


def _quietly(operation: Callable[..., None], **kwargs: Any) -> None:
    """A bookkeeping write to Redis after the fact: a failure is logged, never raised
    (the check-in is stored, or was refused, either way)."""
    try:
        operation(**kwargs)
    except redis.RedisError as error:
        logger.warning("check-in rate bookkeeping skipped (Redis: %s)", type(error).__name__)
