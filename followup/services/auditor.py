"""The auditor: is anything that should have reached a person stuck? (H1)

It counts
- overdue alerts: open, with an escalation deadline more than OVERDUE_GRACE ago. The
  escalation tick runs every 20 s, so such an alert means the tick is not running or
  keeps failing: nobody is being paged for it;
- undelivered messages: outbox rows still queued or sending more than
  UNDELIVERED_GRACE after they were due (created, or their `send_after`: a message held
  for quiet hours or a retry back-off is not late before then).

Where the figures go: `/healthz` ("auditor"), the metrics page, a WARNING log line
(counts only, no PHI) whenever either is not zero, and an optional heartbeat URL
(VIGIL_AUDITOR_HEARTBEAT_URL, e.g. a healthchecks.io check) pinged on every run, so
that an auditor that stops running is noticed too.

/healthz stays 200 when the figures are not zero: it is what a load balancer or an
orchestrator reads to route around or restart a process, and neither helps here —
taking the web process out would hide the dashboard exactly when alerts are stuck.
Monitoring alerts on the figures in the body instead.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from followup.models import Alert
from notifications.models import MessageStatus, OutgoingMessage

logger = logging.getLogger(__name__)

OVERDUE_GRACE = timedelta(minutes=2)
UNDELIVERED_GRACE = timedelta(minutes=1)
HEARTBEAT_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class AuditorFigures:
    overdue_alerts: int
    undelivered_messages: int

    @property
    def clear(self) -> bool:
        return self.overdue_alerts == 0 and self.undelivered_messages == 0


def auditor_figures(*, now: datetime | None = None, clinic_id: int | None = None) -> AuditorFigures:
    """Two counts (two queries); for one clinic or the whole installation."""
    now = now or timezone.now()
    alerts = Alert.objects.filter(status=Alert.Status.OPEN, next_escalation_at__lt=now - OVERDUE_GRACE)
    messages = OutgoingMessage.objects.filter(status__in=[MessageStatus.QUEUED, MessageStatus.SENDING])
    if clinic_id is not None:
        alerts = alerts.filter(clinic_id=clinic_id)
        messages = messages.filter(clinic_id=clinic_id)
    messages = messages.annotate(due_at=Coalesce("send_after", "created_at")).filter(
        Q(due_at__lt=now - UNDELIVERED_GRACE)
    )
    return AuditorFigures(overdue_alerts=alerts.count(), undelivered_messages=messages.count())


def auditor_heartbeat(*, figures: AuditorFigures) -> None:
    url = getattr(settings, "VIGIL_AUDITOR_HEARTBEAT_URL", "")
    if not url:
        return
    body = json.dumps(asdict(figures)).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})  # noqa: S310 - an operator-set URL
    try:
        with urllib.request.urlopen(request, timeout=HEARTBEAT_TIMEOUT_SECONDS) as response:  # noqa: S310
            response.read(1024)
    except OSError as error:
        # A missed heartbeat is the monitor's signal; the auditor itself carries on.
        logger.warning("auditor: heartbeat ping failed (%s)", type(error).__name__)


def auditor_run(*, now: datetime | None = None) -> AuditorFigures:
    """One auditor pass (the `auditor_tick` beat task)."""
    figures = auditor_figures(now=now)
    if not figures.clear:
        logger.warning(
            "auditor: %s open alert(s) overdue for escalation, %s outgoing message(s) undelivered",
            figures.overdue_alerts,
            figures.undelivered_messages,
        )
    auditor_heartbeat(figures=figures)
    return figures


def auditor_health() -> dict[str, object]:
    """The auditor's part of /healthz (registered in followup.apps)."""
    try:
        figures = auditor_figures()
    except Exception as error:  # the database check above names the outage
        return {"auditor": f"error: {type(error).__name__}"}
    return {"auditor": asdict(figures)}
