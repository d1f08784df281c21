"""Issue 17, flat cost (H18): a check-in reads only the history its rules can look at
(``followup/history.py``, the horizon in ``followup/rules/horizon.py``), and the rules
give the same evaluation with that bounded read as with the whole history.

The property tests store random histories (answers of every JSON type, times bunched
into the rule windows and spread over months, ties, late entries judged in the past,
labs) and compare, for the judged moment, the evaluation over the bounded read with the
evaluation over every row: level, findings (with their evidence) and trace."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followup.history import history_read
from followup.models import CheckIn, Enrollment, Observation
from followup.rules import Evaluation, EvaluationInput, LabResult, PastCheckIn, RuleSet, compile_rules
from followup.services.checkins import answers_evaluate
from followup.services.protocols import protocol_definition
from tests.answers import PROTOCOL_FIELDS, green_answers
from tests.followup.rules.conftest import RULES_FILE

END = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HOUR = 60  # minutes

# Check-in rules that read what the default protocol's do not: labs on a check-in,
# a history condition inside consecutive, windows over choices, booleans and
# "answered", a time window in the acute phase over 90 days.
EXTRA_RULES: list[dict[str, Any]] = [
    {
        "id": "lab_mix",
        "title": "Labs on a check-in",
        "severity": "amber",
        "action": "review",
        "advice": "amber",
        "source": ["S1"],
        "phases": ["acute"],
        "when": {
            "any": [
                {"lab": "cea_ng_ml", "ratio_to": "lowest_since_surgery", ">=": 2},
                {"lab": "bilirubin_umol_l", "rises_in_a_row": 2, "from_surgery_day": 5},
                {"lab": "inr", "rise_from": "previous", "as": "percent", ">=": 10},
                {"lab": "albumin_g_l", "<": 25},
            ]
        },
    },
    {
        "id": "pain_climbing",
        "title": "Pain up on three check-ins in a row",
        "severity": "amber",
        "action": "nurse_call_today",
        "advice": "amber",
        "source": ["S1"],
        "phases": ["acute"],
        "when": {"consecutive": 3, "when": {"answer": "abdominal_pain", "rise_from": "previous", ">=": 1}},
    },
    {
        "id": "window_mix",
        "title": "Swelling or unanswered nausea within 36 h",
        "severity": "amber",
        "action": "nurse_call_today",
        "advice": "amber",
        "source": ["S1"],
        "phases": ["acute"],
        "when": {
            "within_hours": 36,
            "when": {
                "any": [
                    {"answer": "abdominal_swelling", "in": ["mild", "severe"]},
                    {"all": [{"not": {"answered": "nausea"}}, {"answer": "chills", "is": False}]},
                    {"answer": "abdominal_pain", "in": [7, 9]},
                ]
            },
        },
    },
    {
        "id": "weight_drift",
        "title": "Weight down from 30 days ago",
        "severity": "amber",
        "action": "nurse_call_today",
        "advice": "amber",
        "source": ["S1"],
        "phases": ["acute"],
        "when": {"answer": "weight_kg", "fall_from": {"earliest_within_days": 30}, "as": "percent", ">=": 3.0},
    },
]


# A window judged from each check-in of a run: a shape the bounded read does not
# serve, so the horizon says "unbounded" and the whole history is read.
UNBOUNDED_RULE: dict[str, Any] = {
    "id": "weight_gain_twice",
    "title": "Weight up 2 kg within 72 h on two check-ins in a row",
    "severity": "amber",
    "action": "nurse_call_today",
    "advice": "amber",
    "source": ["S8"],
    "phases": ["acute"],
    "when": {
        "consecutive": 2,
        "when": {"answer": "weight_kg", "rise_from": {"lowest_within_hours": 72}, ">=": 2.0},
    },
}


def _ruleset(extra: list[dict[str, Any]]) -> RuleSet:
    raw = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return compile_rules(raw + extra, fields=dict(PROTOCOL_FIELDS), version="t", source=str(RULES_FILE))


DEFAULT_RULES = _ruleset([])
WIDE_RULES = _ruleset(EXTRA_RULES)
UNBOUNDED_RULES = _ruleset([UNBOUNDED_RULE])
RULESETS = {"default": DEFAULT_RULES, "wide": WIDE_RULES, "unbounded": UNBOUNDED_RULES}

# Past answers of every JSON type: a past check-in of another protocol version may hold
# anything, and reads as "not answered" where the type is wrong.
_ANY = st.one_of(st.none(), st.booleans(), st.sampled_from(["yes", "mild", "none"]), st.integers(0, 3))


def _mostly(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The question's own type three times in four (abnormal values often, so runs of
    findings form), any other JSON value the fourth."""
    return st.one_of(values, values, values, _ANY)


_PAST_ANSWERS = st.fixed_dictionaries(
    {},
    optional={
        "temperature_c": _mostly(st.sampled_from([36.6, 37.9, 38.0, 38.2, 38.5, 39.1, 38])),
        "chills": _mostly(st.booleans()),
        "weight_kg": _mostly(st.sampled_from([70.0, 71.5, 72, 73.4, 74.0, 76.1, 79.0, 80.0])),
        "nausea": _mostly(st.sampled_from([True, True, False])),
        "appetite": _mostly(st.sampled_from(["normal", "none", "none"])),
        "leg_swelling": _mostly(st.sampled_from(["none", "both", "both"])),
        "abdominal_swelling": _mostly(st.sampled_from(["none", "mild", "severe"])),
        "abdominal_pain": _mostly(st.one_of(st.integers(0, 10), st.just(7.0))),
    },
)
_NOW_ANSWERS = st.fixed_dictionaries(
    {
        "temperature_c": st.sampled_from([36.8, 38.0, 38.3]),
        "weight_kg": st.sampled_from([72.0, 74.5, 76.0, 79.0]),
        "nausea": st.sampled_from([True, True, False]),
        "appetite": st.sampled_from(["normal", "none"]),
        "leg_swelling": st.sampled_from(["none", "both"]),
        "abdominal_swelling": st.sampled_from(["none", "mild"]),
        "abdominal_pain": st.integers(0, 6),
    }
)
# Minutes before END: bunched inside the 24 h and 72 h windows, spread over months,
# and from a few values so that ties in time happen.
_MINUTES = st.one_of(
    st.integers(0, 30 * HOUR),
    st.integers(0, 80 * HOUR),
    st.integers(0, 130 * 24 * HOUR),
    st.sampled_from([0, 60, 24 * HOUR, 72 * HOUR]),
)
_LAB = st.tuples(
    st.sampled_from(["cea_ng_ml", "cea_ng_ml", "bilirubin_umol_l", "inr", "albumin_g_l"]),
    st.sampled_from([1.0, 2.0, 2.5, 4.0, 20.0, 30.0, 60.0, 1.1, 1.3]),
    st.one_of(st.integers(0, 140 * 24 * HOUR), st.integers(0, 96 * HOUR), st.sampled_from([0, 60 * 24 * HOUR])),
)
_JUDGED = st.one_of(st.just(0), st.integers(0, 96 * HOUR))  # > 0: a late entry judged in the past


def _store(enrollment: Enrollment, past: list[tuple[int, dict[str, Any]]], labs: list[tuple[str, float, int]]) -> None:
    patient = enrollment.patient
    CheckIn.objects.filter(patient=patient).delete()
    Observation.objects.filter(patient=patient).delete()
    CheckIn.objects.bulk_create(
        CheckIn(
            patient=patient,
            enrollment=enrollment,
            protocol_version=enrollment.protocol_version,
            answers=answers,
            taken_at=END - timedelta(minutes=minutes),
            channel=CheckIn.Source.APP,
            level="green",
        )
        for minutes, answers in past
    )
    Observation.objects.bulk_create(
        Observation(
            patient=patient,
            code=code,
            value=value,
            unit="",
            entered_value=value,
            entered_unit="",
            observed_at=END - timedelta(minutes=minutes),
        )
        for code, value, minutes in labs
    )


def _whole_history(enrollment: Enrollment, moment: datetime) -> tuple[list[PastCheckIn], list[LabResult]]:
    """Every row, as the check-in path read them before issue 17."""
    zone = zoneinfo.ZoneInfo(enrollment.patient.timezone)
    check_ins = [
        PastCheckIn(taken_at=taken_at, answers=answers)
        for taken_at, answers in CheckIn.objects.filter(patient=enrollment.patient, taken_at__lt=moment)
        .order_by("taken_at", "id")
        .values_list("taken_at", "answers")
    ]
    labs = [
        LabResult(code=code, value=value, observed_at=observed_at.astimezone(zone))
        for code, value, observed_at in Observation.objects.filter(patient=enrollment.patient, observed_at__lte=moment)
        .order_by("observed_at", "id")
        .values_list("code", "value", "observed_at")
    ]
    return check_ins, labs


def _evaluate(
    ruleset: RuleSet, enrollment: Enrollment, answers: dict[str, Any], moment: datetime, phase: str, *, bounded: bool
) -> Evaluation:
    episode = enrollment.episode
    if bounded:
        history = history_read(
            patient_id=enrollment.patient_id,
            timezone=enrollment.patient.timezone,
            moment=moment,
            horizon=ruleset.history_horizon(phase=phase),
            surgery_date=episode.surgery_date,
        )
        check_ins, labs = history.check_ins, history.labs
    else:
        check_ins, labs = _whole_history(enrollment, moment)
    return ruleset.evaluate(
        EvaluationInput(
            answers=answers,
            taken_at=moment,
            phase=phase,
            day_since_discharge=(moment.date() - episode.discharge_date).days,
            day_since_surgery=(moment.date() - episode.surgery_date).days,
            baseline_weight_kg=80.0,
            history=check_ins,
            labs=labs,
            surgery_date=episode.surgery_date,
        )
    )


def _same(bounded: Evaluation, whole: Evaluation) -> None:
    assert bounded.level == whole.level
    assert [finding.as_dict() for finding in bounded.findings] == [finding.as_dict() for finding in whole.findings]
    assert bounded.suppressed == whole.suppressed
    assert bounded.trace == whole.trace


@pytest.fixture
def history_patient(make_enrolled) -> Enrollment:
    patient = make_enrolled(discharged_days_ago=20)
    enrollment = Enrollment.objects.select_related("patient", "episode", "protocol_version").get(patient=patient)
    episode = enrollment.episode
    # Surgery inside the lab times drawn, so "since surgery" cuts some results off.
    episode.surgery_date = (END - timedelta(days=60)).date()
    episode.discharge_date = (END - timedelta(days=50)).date()
    episode.save(update_fields=["surgery_date", "discharge_date"])
    return enrollment


_PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.django_db
@_PROPERTY
@given(
    past=st.lists(st.tuples(_MINUTES, _PAST_ANSWERS), max_size=30),
    labs=st.lists(_LAB, max_size=14),
    answers=_NOW_ANSWERS,
    judged=_JUDGED,
    phase=st.sampled_from(["acute", "acute", "surveillance"]),
    rules=st.sampled_from(["default", "wide", "wide", "unbounded"]),
)
def test_the_bounded_read_gives_the_evaluation_of_the_whole_history(
    history_patient, past, labs, answers, judged, phase, rules
):
    ruleset = RULESETS[rules]
    _store(history_patient, past, labs)
    moment = END - timedelta(minutes=judged)
    now = green_answers(**answers)
    bounded = _evaluate(ruleset, history_patient, now, moment, phase, bounded=True)
    whole = _evaluate(ruleset, history_patient, now, moment, phase, bounded=False)
    _same(bounded, whole)


@pytest.mark.django_db
@_PROPERTY
@given(labs=st.lists(_LAB, max_size=24), judged=_JUDGED, phase=st.sampled_from(["acute", "surveillance"]))
def test_the_lab_rules_judge_the_bounded_labs_as_the_whole_series(history_patient, labs, judged, phase):
    """A result entered by staff is judged with the lab rules' horizon (observations)."""
    _store(history_patient, [], labs)
    moment = END - timedelta(minutes=judged)
    ruleset, episode = DEFAULT_RULES, history_patient.episode
    bounded = history_read(
        patient_id=history_patient.patient_id,
        timezone=history_patient.patient.timezone,
        moment=moment,
        horizon=ruleset.history_horizon(phase=phase, trigger="lab"),
        surgery_date=episode.surgery_date,
    ).labs
    _, whole = _whole_history(history_patient, moment)
    local = moment.astimezone(zoneinfo.ZoneInfo(history_patient.patient.timezone))
    _same(
        ruleset.evaluate_labs(labs=bounded, at=local, phase=phase, surgery_date=episode.surgery_date),
        ruleset.evaluate_labs(labs=whole, at=local, phase=phase, surgery_date=episode.surgery_date),
    )


@pytest.mark.django_db
@settings(_PROPERTY, max_examples=40)
@given(past=st.lists(st.tuples(_MINUTES, _PAST_ANSWERS), max_size=20), answers=_NOW_ANSWERS, judged=_JUDGED)
def test_the_check_in_path_judges_as_the_whole_history_would(history_patient, past, answers, judged):
    """``answers_evaluate``, the check-in path's judgement, with the stored protocol."""
    _store(history_patient, past, [])
    moment = END - timedelta(minutes=judged)
    now = green_answers(**answers)
    ruleset = protocol_definition(history_patient.protocol_version).ruleset
    bounded = answers_evaluate(enrollment=history_patient, answers=now, moment=moment, phase="acute")
    whole = _evaluate(ruleset, history_patient, now, moment, "acute", bounded=False)
    assert bounded.level == whole.level
    assert [finding.as_dict() for finding in bounded.findings] == [finding.as_dict() for finding in whole.findings]


@pytest.mark.django_db
@pytest.mark.parametrize("size", [3, 300])
def test_the_history_is_one_statement_and_a_few_rows_whatever_its_length(history_patient, size):
    """300 check-ins, every one inside the 72 h window, and 300 labs: one statement,
    and no more rows than the horizon names."""
    past = [
        (minutes % (70 * HOUR), green_answers(temperature_c=38.1 if minutes % 7 == 0 else 36.9))
        for minutes in range(size)
    ]
    labs = [("cea_ng_ml", 2.0 + index % 5, index * HOUR) for index in range(size)]
    _store(history_patient, past, labs)
    horizon = WIDE_RULES.history_horizon(phase="surveillance")
    with CaptureQueriesContext(connection) as queries:
        history = history_read(
            patient_id=history_patient.patient_id,
            timezone=history_patient.patient.timezone,
            moment=END,
            horizon=horizon,
            surgery_date=history_patient.episode.surgery_date,
        )
    assert len(queries.captured_queries) == 1
    assert len(history.check_ins) <= horizon.check_ins + len(horizon.windows)
    assert len(history.labs) <= sum(count for _, count in horizon.lab_latest) + 2 * len(
        horizon.lab_lowest_since_surgery
    )


@pytest.mark.django_db
def test_the_lowest_since_surgery_is_read_when_the_latest_result_is_the_lowest(history_patient):
    """The rule leaves the latest result out of "the lowest since surgery": when the
    latest is the lowest, the read must still bring the next lowest."""
    labs = [("cea_ng_ml", 4.0, 30 * 24 * HOUR), ("cea_ng_ml", 9.0, 20 * 24 * HOUR), ("cea_ng_ml", 1.0, 10 * 24 * HOUR)]
    _store(history_patient, [], labs)
    now = green_answers()
    bounded = _evaluate(WIDE_RULES, history_patient, now, END, "acute", bounded=True)
    _same(bounded, _evaluate(WIDE_RULES, history_patient, now, END, "acute", bounded=False))
    (line,) = [line for line in bounded.trace if line.startswith("lab_mix")]
    assert "not fired" in line and "cea_ng_ml" not in line
