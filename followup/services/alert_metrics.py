"""Figures the clinic tunes its rules with (post-hepatectomy.md, "Outcomes"): open
alerts, time to acknowledge, escalations, and per rule the outcomes and the positive
predictive value."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from followup.models import Alert, EscalationStep
from followup.services.alerts import OUTCOMES, SIGNIFICANT_GRADES, UNRESOLVED
from followup.services.appointments import iso


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (as numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _seconds_summary(values: Iterable[float]) -> dict[str, float | int | None]:
    collected = list(values)
    median = percentile(collected, 0.5)
    p90 = percentile(collected, 0.9)
    return {
        "count": len(collected),
        "median": round(median, 1) if median is not None else None,
        "p90": round(p90, 1) if p90 is not None else None,
    }


def alert_metrics(*, clinic_id: int, since: datetime | None = None) -> dict[str, Any]:
    """Figures the clinic tunes its rules with (post-hepatectomy.md, "Outcomes").

    - ``open`` / ``acknowledged``: unresolved alerts now, by severity (whatever
      ``since``);
    - ``time_to_acknowledge_seconds``: median and p90, overall and by severity, of
      alerts created since ``since``;
    - ``escalations``: pages beyond the first level, and alerts that needed one;
    - ``rules``: per rule, alerts raised, resolved, each outcome, grade >= II, and the
      positive predictive value: the share of resolved alerts that ended in a recall
      or a complication of grade II or more (null before any is resolved).
    Three queries whatever the number of alerts.
    """
    unresolved = {status: {"red": 0, "amber": 0} for status in UNRESOLVED}
    for status, severity in Alert.objects.filter(clinic_id=clinic_id, status__in=UNRESOLVED).values_list(
        "status", "severity"
    ):
        unresolved[status][severity] += 1
    alerts = Alert.objects.filter(clinic_id=clinic_id)
    steps = EscalationStep.objects.filter(alert__clinic_id=clinic_id, level__gte=2)
    if since is not None:
        alerts = alerts.filter(created_at__gte=since)
        steps = steps.filter(alert__created_at__gte=since)
    tally = _Tally()
    for row in alerts.values_list(
        "rule_id",
        "rule_title",
        "severity",
        "status",
        "created_at",
        "acknowledged_at",
        "outcome",
        "complication_grade",
        "escalation_level",
    ):
        tally.add(*row)
    ack = tally.ack_seconds
    return {
        "since": iso(since),
        "open": unresolved[Alert.Status.OPEN],
        "acknowledged": unresolved[Alert.Status.ACKNOWLEDGED],
        "time_to_acknowledge_seconds": {
            "all": _seconds_summary(ack["red"] + ack["amber"]),
            "red": _seconds_summary(ack["red"]),
            "amber": _seconds_summary(ack["amber"]),
        },
        "escalations": {"pages_beyond_first_level": steps.count(), "alerts_escalated": tally.escalated},
        "rules": tally.rules(),
    }


class _Tally:
    """Alerts counted by rule and outcome as they are read, one row at a time."""

    def __init__(self) -> None:
        self.ack_seconds: dict[str, list[float]] = {"red": [], "amber": []}
        self.per_rule: dict[str, dict[str, Any]] = {}
        self.outcomes: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
        self.escalated = 0

    def add(
        self,
        rule_id: str,
        title: str,
        severity: str,
        status: str,
        created_at: datetime,
        acknowledged_at: datetime | None,
        outcome: str,
        grade: str,
        level: int,
    ) -> None:
        if acknowledged_at is not None:
            self.ack_seconds[severity].append((acknowledged_at - created_at).total_seconds())
        if level > 1:
            self.escalated += 1
        figures = self.per_rule.setdefault(
            rule_id,
            {"rule_id": rule_id, "title": title, "severity": severity, "count": 0, "resolved": 0, "significant": 0},
        )
        figures["count"] += 1
        if status == Alert.Status.RESOLVED:
            figures["resolved"] += 1
            if outcome in self.outcomes[rule_id]:
                self.outcomes[rule_id][outcome] += 1
            if outcome == Alert.Outcome.RECALLED or grade in SIGNIFICANT_GRADES:
                figures["significant"] += 1

    def rules(self) -> list[dict[str, Any]]:
        """Red rules first, then by id."""
        ordered = sorted(self.per_rule.items(), key=lambda item: (item[1]["severity"] != "red", item[0]))
        return [
            {
                "rule_id": rule_id,
                "title": figures["title"],
                "severity": figures["severity"],
                "count": figures["count"],
                "resolved": figures["resolved"],
                **self.outcomes[rule_id],
                "recall_or_grade_ii_plus": figures["significant"],
                "ppv": round(figures["significant"] / figures["resolved"], 3) if figures["resolved"] else None,
            }
            for rule_id, figures in ordered
        ]
