"""Protocol version 2026.2, lab rules (the clinical file's "Changes in version 2"):
upper limits of normal from the laboratory's reference range with each result, the
protocol's figure only as fallback; CEA > 5 ng/mL in both branches of cea_rising;
bilirubin rising by trend only above the upper limit of normal.

H3 (a rule misses a warning sign, or pages for nothing): each change is pinned on
both sides of its boundary, against version 2026.1 kept as published."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from followup.protocols import DEFAULT_DATA_DIR, load_protocol
from followup.rules import DEFAULT_UPPER_LIMITS, FieldSpec, LabResult, RuleLoadError, RuleSet, compile_rules

SURGERY = date(2025, 3, 1)
PROTOCOL_DIR = DEFAULT_DATA_DIR / "post-hepatectomy"
V1_DIR = PROTOCOL_DIR / "versions" / "2026.1"


def _compile(directory: Path, fields: dict[str, FieldSpec]) -> RuleSet:
    raw = yaml.safe_load((directory / "rules.yaml").read_text(encoding="utf-8"))
    return compile_rules(raw, fields=fields, version=directory.name, source=str(directory / "rules.yaml"))


@pytest.fixture(scope="module")
def v2(fields: dict[str, FieldSpec]) -> RuleSet:
    return _compile(PROTOCOL_DIR, fields)


@pytest.fixture(scope="module")
def v1(fields: dict[str, FieldSpec]) -> RuleSet:
    return _compile(V1_DIR, fields)


def lab(code: str, value: float, day: int, *, high: float | None = None, low: float | None = None) -> LabResult:
    return LabResult(
        code=code,
        value=value,
        observed_at=datetime.combine(SURGERY + timedelta(days=day), time(8), tzinfo=UTC),
        reference_low=low,
        reference_high=high,
    )


def fired(ruleset: RuleSet, *labs: LabResult) -> set[str]:
    evaluation = ruleset.evaluate_labs(
        labs=list(labs), at=max(result.observed_at for result in labs), phase="acute", surgery_date=SURGERY
    )
    return set(evaluation.rule_ids)


def test_the_shipped_protocol_is_version_2026_2_and_v1_is_kept_as_published() -> None:
    assert load_protocol(PROTOCOL_DIR).version == "2026.2"
    assert load_protocol(V1_DIR).version == "2026.1"


# --- transaminases: 5 x the laboratory's upper limit -------------------------------------------


@pytest.mark.parametrize(
    ("value", "high", "expected"),
    [
        (210.0, 45.0, set()),  # 5 x 45 = 225
        (210.0, 35.0, {"transaminases_high"}),  # 5 x 35 = 175
        (225.0, 45.0, set()),  # at 5 x the limit: not above it
        (225.01, 45.0, {"transaminases_high"}),
        (200.0, None, set()),  # no range from the lab: 5 x the protocol's 40
        (201.0, None, {"transaminases_high"}),
        (102.61, 20.52, {"transaminases_high"}),  # 5 x 20.52 = 102.6 exactly, in decimal
        (102.6, 20.52, set()),
    ],
)
def test_alt_against_the_laboratory_upper_limit(
    v2: RuleSet, value: float, high: float | None, expected: set[str]
) -> None:
    """H3: ALT 210 U/L with the lab's upper limit 45 does not fire, with 35 it does."""
    assert fired(v2, lab("alt_u_l", value, 8, high=high)) == expected


def test_ast_uses_its_own_result_limit_and_the_day_rule_still_holds(v2: RuleSet) -> None:
    assert fired(v2, lab("ast_u_l", 210.0, 8, high=35.0)) == {"transaminases_high"}
    assert fired(v2, lab("ast_u_l", 400.0, 7, high=35.0)) == set()  # after day 7 only


def test_the_evidence_names_whose_limit_was_used(v2: RuleSet) -> None:
    evaluation = v2.evaluate_labs(
        labs=[lab("alt_u_l", 210.0, 8, high=35.0)],
        at=lab("alt_u_l", 1, 8).observed_at,
        phase="acute",
        surgery_date=SURGERY,
    )
    (finding,) = evaluation.findings
    (evidence,) = finding.evidence
    assert evidence.value == 210.0
    assert "35" in evidence.condition and "laboratory" in evidence.condition and "175" in evidence.condition
    default = v2.evaluate_labs(
        labs=[lab("alt_u_l", 250.0, 8)], at=lab("alt_u_l", 1, 8).observed_at, phase="acute", surgery_date=SURGERY
    )
    assert "default" in default.findings[0].evidence[0].condition and "200" in default.findings[0].evidence[0].condition


def test_v1_kept_its_fixed_200(v1: RuleSet) -> None:
    """Patients still on v1 are judged as before: 210 fires whatever the lab's range."""
    assert fired(v1, lab("alt_u_l", 210.0, 8, high=45.0)) == {"transaminases_high"}


# --- CEA: the floor of 5 ng/mL for both branches ----------------------------------------------


def test_cea_doubling_inside_the_normal_range_does_not_fire(v2: RuleSet, v1: RuleSet) -> None:
    """H3: 0.8 -> 1.6 ng/mL (twice the lowest since surgery) was an alert without a finding."""
    history = (lab("cea_ng_ml", 0.8, 60), lab("cea_ng_ml", 1.6, 150))
    assert fired(v2, *history) == set()
    assert fired(v1, *history) == {"cea_rising"}


def test_cea_rise_above_the_floor_fires(v2: RuleSet) -> None:
    """H3: 4.0 -> 6.1 ng/mL (52.5 % up, above 5) fires."""
    assert fired(v2, lab("cea_ng_ml", 4.0, 60), lab("cea_ng_ml", 6.1, 150)) == {"cea_rising"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((2.5, 5.0), set()),  # twice the lowest, at the floor: not above it
        ((2.5, 5.01), {"cea_rising"}),  # twice the lowest and above the floor
        ((2.0, 3.5, 4.0), set()),  # twice the lowest, under the floor
        ((4.7, 6.0), set()),  # above the floor, 27.7 % up and not twice the lowest
        ((4.6, 6.0), {"cea_rising"}),  # 30.4 % up
    ],
)
def test_cea_floor_boundaries(v2: RuleSet, values: tuple[float, ...], expected: set[str]) -> None:
    labs = [lab("cea_ng_ml", value, 30 * (index + 1)) for index, value in enumerate(values)]
    assert fired(v2, *labs) == expected


# --- bilirubin: a trend only above the upper limit of normal -----------------------------------


def test_bilirubin_rising_twice_within_the_normal_range_does_not_fire(v2: RuleSet, v1: RuleSet) -> None:
    """H3: 8 -> 12 -> 17 µmol/L (upper limit 21) on days 5-7 is a normal rising value."""
    history = (lab("bilirubin_umol_l", 8.0, 5), lab("bilirubin_umol_l", 12.0, 6), lab("bilirubin_umol_l", 17.0, 7))
    assert fired(v2, *history) == set()
    assert fired(v1, *history) == {"bilirubin_rising"}


@pytest.mark.parametrize(
    ("latest", "high", "expected"),
    [
        (21.0, None, set()),  # at the protocol's upper limit: not above it
        (21.5, None, {"bilirubin_rising"}),
        (21.5, 24.0, set()),  # the lab's own limit is higher
        (19.0, 17.0, {"bilirubin_rising"}),  # ... or lower
    ],
)
def test_bilirubin_trend_against_the_upper_limit_of_the_latest_result(
    v2: RuleSet, latest: float, high: float | None, expected: set[str]
) -> None:
    history = (lab("bilirubin_umol_l", 10.0, 5), lab("bilirubin_umol_l", 15.0, 6))
    assert fired(v2, *history, lab("bilirubin_umol_l", latest, 7, high=high)) == expected


def test_bilirubin_above_50_still_fires_without_a_trend(v2: RuleSet) -> None:
    assert fired(v2, lab("bilirubin_umol_l", 50.1, 5, high=80.0)) == {"bilirubin_rising"}


def test_a_reference_range_of_zero_is_not_a_limit(v2: RuleSet) -> None:
    """A laboratory sending 0 as its upper limit would make every value 'high': the
    protocol's default is used instead."""
    assert fired(v2, lab("alt_u_l", 150.0, 8, high=0.0)) == set()


# --- the rules language ----------------------------------------------------------------------


def _times_rule(condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "probe",
        "title": "Probe",
        "severity": "amber",
        "action": "review",
        "advice": "amber",
        "source": ["S1"],
        "phases": ["acute"],
        "trigger": "lab",
        "when": condition,
    }


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ({"lab": "albumin_g_l", ">": 2, "times": "upper_limit"}, "no default upper limit"),
        ({"lab": "alt_u_l", ">": 5, "times": "lower_limit"}, "unknown limit"),
        ({"lab": "alt_u_l", ">": 0, "times": "upper_limit"}, "> 0"),
        ({"lab": "alt_u_l", "==": 5, "times": "upper_limit"}, "compared with"),
        ({"lab": "alt_u_l", ">": 5, "times": "upper_limit", "rise_from": "previous"}, "does not apply"),
    ],
)
def test_times_upper_limit_compile_errors(fields: dict[str, FieldSpec], condition: dict[str, Any], reason: str) -> None:
    with pytest.raises(RuleLoadError, match=reason):
        compile_rules([_times_rule(condition)], fields=fields, version="1", source="probe.yaml")


def test_a_protocol_may_give_its_own_default_limits(fields: dict[str, FieldSpec]) -> None:
    raw = [_times_rule({"lab": "albumin_g_l", ">": 2, "times": "upper_limit"})]
    ruleset = compile_rules(
        raw, fields=fields, version="1", source="probe.yaml", upper_limits={**DEFAULT_UPPER_LIMITS, "albumin_g_l": 30}
    )
    assert fired(ruleset, lab("albumin_g_l", 61.0, 3)) == {"probe"}
    assert fired(ruleset, lab("albumin_g_l", 61.0, 3, high=35.0)) == set()


def test_the_history_horizon_of_v2_lab_rules_stays_bounded(v2: RuleSet) -> None:
    """A relative threshold reads the latest result only (its own range with it)."""
    horizon = v2.history_horizon(phase="acute", trigger="lab")
    assert not horizon.unbounded
    latest = dict(horizon.lab_latest)
    assert latest["alt_u_l"] == 1 and latest["bilirubin_umol_l"] == 3 and latest["cea_ng_ml"] == 2
