"""Replay stored check-ins and lab results against a candidate rule file, so that a
clinician can judge a rule change before it goes live (H3).

    manage.py replay_rules --protocol path/to/rules.yaml --since 2026-01-01
    manage.py replay_rules --protocol path/to/protocol-dir --since 2026-01-01 --format json

``--protocol`` is a protocol directory (protocol.yaml and rules.yaml) or a rules
file; a rules file alone is compiled against the protocol.yaml beside it, or else
against the current published version's. Each check-in taken since ``--since`` is
judged twice with the same history (every check-in and lab of the patient, as they
stood at its taken_at): by the version it was judged with, and by the candidate.
Per rule it prints how many check-ins (or lab results) would newly fire it
(appear), would no longer fire it (disappear) or fire it at another severity; how
many stored alerts would disappear altogether (every replayed occurrence gone) and,
from their recorded outcomes, how many of those had led to a recall or to a
complication of grade II or more: what the change would have missed.
"""

from __future__ import annotations

import json
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from backend.models import Episode
from followup.models import Alert, AlertOccurrence, CheckIn, Enrollment, Observation, ProtocolVersion
from followup.protocols import ProtocolDefinition, ProtocolLoadError
from followup.protocols.loader import PROTOCOL_FILE, RULES_FILE
from followup.rules import EvaluationInput, LabResult, PastCheckIn
from followup.services.alerts import SIGNIFICANT_GRADES
from followup.services.protocols import protocol_definition, protocol_definition_from_texts

# code, value (SI), observed_at, reference_low, reference_high
LabRow = tuple[str, float, datetime, float | None, float | None]


@dataclass
class RuleFigures:
    rule_id: str
    severity_now: str = ""
    severity_candidate: str = ""
    fired_now: int = 0
    fired_candidate: int = 0
    appear: int = 0
    disappear: int = 0
    severity_changed: int = 0
    alerts_lost: int = 0
    alerts_lost_recalled: int = 0
    alerts_lost_grade_ii_plus: int = 0
    patients_appear: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        data = {key: value for key, value in self.__dict__.items() if key != "patients_appear"}
        data["patients_appear"] = len(self.patients_appear)
        return data

    @property
    def changed(self) -> bool:
        return bool(self.appear or self.disappear or self.severity_changed)


class Command(BaseCommand):
    help = "Replay stored check-ins and labs against a candidate rule file; print per-rule differences."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--protocol", required=True, help="candidate protocol directory or rules.yaml")
        parser.add_argument("--since", required=True, help="replay what was taken on or after this date (YYYY-MM-DD)")
        parser.add_argument("--slug", help="the protocol whose check-ins to replay (default: the candidate's)")
        parser.add_argument("--format", choices=("table", "json"), default="table")
        parser.add_argument("--all-rules", action="store_true", help="list unchanged rules too")

    def handle(self, *args: Any, **options: Any) -> None:
        since = _since(options["since"])
        candidate = _candidate(Path(options["protocol"]), slug=options.get("slug"))
        slug = options.get("slug") or candidate.slug
        replay = Replay(candidate=candidate, slug=slug, since=since)
        replay.run()
        if options["format"] == "json":
            self.stdout.write(json.dumps(replay.report(all_rules=True), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(replay.table(all_rules=options["all_rules"]))


def _since(raw: str) -> datetime:
    try:
        day = date.fromisoformat(raw)
    except ValueError as error:
        raise CommandError(f"--since: '{raw}' is not a date (YYYY-MM-DD)") from error
    return timezone.make_aware(datetime.combine(day, time.min))


def _candidate(path: Path, *, slug: str | None) -> ProtocolDefinition:
    if path.is_dir():
        directory = path
        rules_path = directory / RULES_FILE
        protocol_path = directory / PROTOCOL_FILE
    else:
        rules_path = path
        protocol_path = path.with_name(PROTOCOL_FILE)
    if not rules_path.is_file():
        raise CommandError(f"--protocol: no rules file at {rules_path}")
    files = {RULES_FILE: rules_path.read_text(encoding="utf-8")}
    sources = {RULES_FILE: str(rules_path)}
    if protocol_path.is_file():
        files[PROTOCOL_FILE] = protocol_path.read_text(encoding="utf-8")
        sources[PROTOCOL_FILE] = str(protocol_path)
    else:
        current = ProtocolVersion.objects.filter(is_current=True)
        current = current.filter(protocol__slug=slug) if slug else current
        version = current.select_related("protocol").order_by("protocol__slug").first()
        if version is None:
            raise CommandError(f"--protocol: no protocol.yaml beside {rules_path} and no published protocol to use")
        files[PROTOCOL_FILE] = version.texts.files[PROTOCOL_FILE]
        sources[PROTOCOL_FILE] = f"{PROTOCOL_FILE} of published version {version.version}"
    try:
        return protocol_definition_from_texts(files=files, label=slug or "candidate", sources=sources)
    except ProtocolLoadError as error:
        raise CommandError(f"the candidate does not load: {error}") from error


class Replay:
    def __init__(self, *, candidate: ProtocolDefinition, slug: str, since: datetime) -> None:
        self.candidate = candidate
        self.slug = slug
        self.since = since
        self.figures: dict[str, RuleFigures] = {}
        self.check_ins = 0
        self.labs = 0
        # (alert id) -> [replayed occurrences, of which disappear]
        self._alert_occurrences: dict[int, list[int]] = defaultdict(lambda: [0, 0])

    def _rule(self, rule_id: str) -> RuleFigures:
        if rule_id not in self.figures:
            self.figures[rule_id] = RuleFigures(rule_id=rule_id)
        return self.figures[rule_id]

    def _compare(
        self,
        *,
        now: dict[str, str],
        candidate: dict[str, str],
        patient_id: int,
        alerts_by_rule: dict[str, int],
    ) -> None:
        for rule_id, severity in now.items():
            figures = self._rule(rule_id)
            figures.fired_now += 1
            figures.severity_now = severity
        for rule_id, severity in candidate.items():
            figures = self._rule(rule_id)
            figures.fired_candidate += 1
            figures.severity_candidate = severity
        for rule_id in now.keys() | candidate.keys():
            figures = self._rule(rule_id)
            if rule_id not in now:
                figures.appear += 1
                figures.patients_appear.add(patient_id)
            elif rule_id not in candidate:
                figures.disappear += 1
            elif now[rule_id] != candidate[rule_id]:
                figures.severity_changed += 1
            alert_id = alerts_by_rule.get(rule_id)
            if alert_id is not None and rule_id in now:
                counts = self._alert_occurrences[alert_id]
                counts[0] += 1
                if rule_id not in candidate:
                    counts[1] += 1

    def run(self) -> None:
        check_ins = list(
            CheckIn.objects.filter(protocol_version__protocol__slug=self.slug, taken_at__gte=self.since)
            .select_related("patient", "protocol_version", "enrollment__episode")
            .order_by("taken_at", "id")
        )
        observations = list(
            Observation.objects.filter(
                observed_at__gte=self.since,
                patient__enrollments__protocol_version__protocol__slug=self.slug,
            )
            .distinct()
            .select_related("patient")
            .order_by("observed_at", "id")
        )
        patient_ids = {c.patient_id for c in check_ins} | {o.patient_id for o in observations}
        history: dict[int, list[PastCheckIn]] = defaultdict(list)
        for patient_id, taken_at, answers in (
            CheckIn.objects.filter(patient_id__in=patient_ids)
            .order_by("taken_at", "id")
            .values_list("patient_id", "taken_at", "answers")
        ):
            history[patient_id].append(PastCheckIn(taken_at=taken_at, answers=answers))
        labs: dict[int, list[LabRow]] = defaultdict(list)
        for patient_id, *row in Observation.objects.filter(patient_id__in=patient_ids).values_list(
            "patient_id", "code", "value", "observed_at", "reference_low", "reference_high"
        ):
            labs[patient_id].append(cast(LabRow, tuple(row)))
        occurrence_alerts: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
        for check_in_id, observation_id, alert_id, rule_id in AlertOccurrence.objects.filter(
            alert__patient_id__in=patient_ids
        ).values_list("check_in_id", "observation_id", "alert_id", "alert__rule_id"):
            key = ("check_in", check_in_id) if check_in_id is not None else ("observation", observation_id)
            occurrence_alerts[key][rule_id] = alert_id
        enrollments = {
            enrollment.patient_id: enrollment
            for enrollment in Enrollment.objects.filter(patient_id__in=patient_ids)
            .select_related("episode", "protocol_version__protocol")
            .order_by("enrolled_at", "id")
        }

        for check_in in check_ins:
            episode = (
                check_in.enrollment.episode if check_in.enrollment else _episode_of(enrollments, check_in.patient_id)
            )
            if episode is None:
                continue
            tz = zoneinfo.ZoneInfo(check_in.patient.timezone)
            local = check_in.taken_at.astimezone(tz).date()
            data = EvaluationInput(
                answers=check_in.answers,
                taken_at=check_in.taken_at,
                phase=check_in.phase,
                day_since_discharge=(local - episode.discharge_date).days,
                day_since_surgery=(local - episode.surgery_date).days,
                baseline_weight_kg=float(episode.baseline_weight_kg)
                if episode.baseline_weight_kg is not None
                else None,
                history=history[check_in.patient_id],
                labs=_lab_results(labs[check_in.patient_id], tz),
                surgery_date=episode.surgery_date,
            )
            now = protocol_definition(check_in.protocol_version).ruleset.evaluate(data)
            candidate = self.candidate.ruleset.evaluate(data)
            self.check_ins += 1
            self._compare(
                now={f.rule_id: f.severity for f in now.findings},
                candidate={f.rule_id: f.severity for f in candidate.findings},
                patient_id=check_in.patient_id,
                alerts_by_rule=occurrence_alerts.get(("check_in", check_in.pk), {}),
            )

        for observation in observations:
            enrollment = enrollments.get(observation.patient_id)
            if enrollment is None or enrollment.protocol_version.protocol.slug != self.slug:
                continue
            tz = zoneinfo.ZoneInfo(observation.patient.timezone)
            episode = enrollment.episode
            at = observation.observed_at.astimezone(tz)
            day = (at.date() - episode.discharge_date).days
            results = _lab_results(labs[observation.patient_id], tz)
            evaluations = []
            for definition in (protocol_definition(enrollment.protocol_version), self.candidate):
                evaluations.append(
                    definition.ruleset.evaluate_labs(
                        labs=results,
                        at=at,
                        phase=definition.schedule.phase_of_day(max(day, 0)),
                        surgery_date=episode.surgery_date,
                        codes={observation.code},
                    )
                )
            self.labs += 1
            self._compare(
                now={f.rule_id: f.severity for f in evaluations[0].findings},
                candidate={f.rule_id: f.severity for f in evaluations[1].findings},
                patient_id=observation.patient_id,
                alerts_by_rule=occurrence_alerts.get(("observation", observation.pk), {}),
            )

        lost = [
            alert_id for alert_id, (replayed, gone) in self._alert_occurrences.items() if replayed and gone == replayed
        ]
        for rule_id, outcome, grade in Alert.objects.filter(pk__in=lost).values_list(
            "rule_id", "outcome", "complication_grade"
        ):
            figures = self._rule(rule_id)
            figures.alerts_lost += 1
            if outcome == Alert.Outcome.RECALLED:
                figures.alerts_lost_recalled += 1
            if grade in SIGNIFICANT_GRADES:
                figures.alerts_lost_grade_ii_plus += 1

    def report(self, *, all_rules: bool) -> dict[str, Any]:
        rules = sorted(self.figures.values(), key=lambda f: f.rule_id)
        return {
            "protocol": self.slug,
            "candidate_version": self.candidate.version,
            "since": self.since.date().isoformat(),
            "check_ins": self.check_ins,
            "lab_results": self.labs,
            "rules": [f.as_dict() for f in rules if all_rules or f.changed],
        }

    def table(self, *, all_rules: bool) -> str:
        report = self.report(all_rules=all_rules)
        lines = [
            f"Replayed {report['check_ins']} check-ins and {report['lab_results']} lab results of "
            f"'{self.slug}' since {report['since']} against candidate version {report['candidate_version']}.",
            "appear/disappear/severity: check-ins or lab results whose finding would change;",
            "alerts lost: stored alerts whose every replayed occurrence would disappear.",
            "",
        ]
        header = (
            "rule",
            "severity",
            "fired now",
            "fired cand.",
            "appear",
            "disappear",
            "severity chg",
            "alerts lost",
            "lost: recalled",
            "lost: grade>=II",
        )
        rows = []
        for figures in report["rules"]:
            severity = figures["severity_now"]
            if figures["severity_candidate"] and figures["severity_candidate"] != figures["severity_now"]:
                severity = f"{figures['severity_now'] or 'none'}->{figures['severity_candidate']}"
            rows.append(
                (
                    figures["rule_id"],
                    severity,
                    figures["fired_now"],
                    figures["fired_candidate"],
                    figures["appear"],
                    figures["disappear"],
                    figures["severity_changed"],
                    figures["alerts_lost"],
                    figures["alerts_lost_recalled"],
                    figures["alerts_lost_grade_ii_plus"],
                )
            )
        if not rows:
            lines.append("No rule would fire differently.")
            return "\n".join(lines) + "\n"
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            lines.append("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        return "\n".join(lines) + "\n"


def _episode_of(enrollments: dict[int, Enrollment], patient_id: int) -> Episode | None:
    enrollment = enrollments.get(patient_id)
    return enrollment.episode if enrollment is not None else None


def _lab_results(rows: list[LabRow], tz: zoneinfo.ZoneInfo) -> list[LabResult]:
    # The laboratory's reference range goes with each result: v2 rules read it.
    return [
        LabResult(code=code, value=value, observed_at=at.astimezone(tz), reference_low=low, reference_high=high)
        for code, value, at, low, high in rows
    ]
