"""Properties of the engine over generated check-ins and histories (hypothesis).

H3: whatever the answers and history, evaluation never crashes, the level is the
highest severity among the findings, covering never hides a red, the result
depends only on the history before ``taken_at`` (not on its order nor on
check-ins entered later), and percentages round exactly as the contract says.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followup.rules import EvaluationInput, FieldSpec, PastCheckIn, RuleSet

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

RANGES = {
    "temperature_c": (34.0, 43.0),
    "abdominal_pain": (0, 10),
    "vomiting_episodes_24h": (0, 30),
    "bowel_movement_days": (0, 14),
    "weight_kg": (25.0, 300.0),
    "heart_rate_bpm": (30, 220),
    "drain_output_ml": (0.0, 5000.0),
}


def answer_strategy(name: str, spec: FieldSpec) -> st.SearchStrategy[Any]:
    if spec.type == "boolean":
        return st.booleans()
    if spec.type == "choice":
        return st.sampled_from(spec.choices or ())
    low, high = RANGES[name]
    if spec.type == "number":
        return st.floats(min_value=low, max_value=high, allow_nan=False).map(lambda value: round(value, 2))
    return st.integers(min_value=int(low), max_value=int(high))


def answers_strategy(fields: dict[str, FieldSpec]) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the questions answered with in-range values."""
    return st.fixed_dictionaries({}, optional={name: answer_strategy(name, spec) for name, spec in fields.items()})


def history_strategy(fields: dict[str, FieldSpec]) -> st.SearchStrategy[list[PastCheckIn]]:
    """Up to 8 check-ins from 200 h before to 48 h after T0 (some entered later).

    Times are distinct: two check-ins taken at the same minute have no defined
    order (the engine keeps the order given), so they would make "order does
    not matter" false by construction.
    """
    check_in = st.builds(
        lambda minutes, answers: PastCheckIn(taken_at=T0 + timedelta(minutes=minutes), answers=answers),
        st.integers(min_value=-200 * 60, max_value=48 * 60),
        answers_strategy(fields),
    )
    return st.lists(check_in, max_size=8, unique_by=lambda check_in: check_in.taken_at)


def evaluate(
    ruleset: RuleSet, answers: dict[str, Any], history: list[PastCheckIn], baseline: float | None, phase: str = "acute"
) -> Any:
    return ruleset.evaluate(
        EvaluationInput(
            answers=answers,
            taken_at=T0,
            phase=phase,
            day_since_discharge=6,
            day_since_surgery=12,
            baseline_weight_kg=baseline,
            history=history,
        )
    )


def summary(evaluation: Any) -> tuple[str, list[dict[str, object]]]:
    return evaluation.level, [finding.as_dict() for finding in evaluation.findings]


@SETTINGS
@given(data=st.data())
def test_any_valid_check_in_is_judged_consistently(ruleset: RuleSet, fields: dict[str, FieldSpec], data: Any) -> None:
    """H3: no crash on any answers or history; level = highest severity; a fired
    red never leaves an amber it covers; everything is JSON-safe."""
    answers = data.draw(answers_strategy(fields))
    history = data.draw(history_strategy(fields))
    baseline = data.draw(st.none() | st.floats(min_value=25.0, max_value=300.0).map(lambda value: round(value, 1)))
    phase = data.draw(st.sampled_from(["acute", "surveillance"]))
    evaluation = evaluate(ruleset, answers, history, baseline, phase)

    severities = [finding.severity for finding in evaluation.findings]
    expected_level = "red" if "red" in severities else "amber" if severities else "green"
    assert evaluation.level == expected_level
    fired = set(evaluation.rule_ids)
    for finding in evaluation.findings:
        assert finding.evidence, finding.rule_id
        if finding.severity == "red":
            assert not fired & set(ruleset.get(finding.rule_id).covers)
    assert severities == sorted(severities, key=lambda severity: severity != "red")
    json.dumps(evaluation.as_dict())


@SETTINGS
@given(data=st.data())
def test_only_history_before_taken_at_matters(ruleset: RuleSet, fields: dict[str, FieldSpec], data: Any) -> None:
    """A late-entered check-in is judged as history stood at its taken_at; the
    order in which history is given does not matter."""
    answers = data.draw(answers_strategy(fields))
    history = data.draw(history_strategy(fields))
    before = [check_in for check_in in history if check_in.taken_at < T0]
    shuffled = list(history)
    random.Random(data.draw(st.integers())).shuffle(shuffled)
    expected = summary(evaluate(ruleset, answers, before, 70.0))
    assert summary(evaluate(ruleset, answers, history, 70.0)) == expected
    assert summary(evaluate(ruleset, answers, shuffled, 70.0)) == expected


LEVEL_ORDER = {"green": 0, "amber": 1, "red": 2}


@SETTINGS
@given(
    low=st.floats(min_value=34.0, max_value=43.0).map(lambda value: round(value, 1)),
    high=st.floats(min_value=34.0, max_value=43.0).map(lambda value: round(value, 1)),
    chills=st.booleans(),
)
def test_a_higher_temperature_never_lowers_the_level(ruleset: RuleSet, low: float, high: float, chills: bool) -> None:
    """H3: the fever thresholds are ordered: a hotter patient is never triaged lower."""
    low, high = min(low, high), max(low, high)
    levels = [
        LEVEL_ORDER[evaluate(ruleset, {"temperature_c": value, "chills": chills}, [], None).level]
        for value in (low, high)
    ]
    assert levels[0] <= levels[1]


@st.composite
def baseline_and_weight(draw: st.DrawFn) -> tuple[float, float]:
    """A baseline and a weight, half of them within a few tenths of a percent of
    the 5 % and 10 % boundaries, where rounding decides."""
    baseline = draw(st.integers(min_value=400, max_value=1500)) / 10
    if draw(st.booleans()):
        weight = draw(st.integers(min_value=2500, max_value=30000)) / 100
    else:
        lost = draw(st.sampled_from([5.0, 10.0])) + draw(st.integers(min_value=-30, max_value=30)) / 100
        weight = round(baseline * (1 - lost / 100), draw(st.sampled_from([1, 2, 3])))
    return baseline, weight


@SETTINGS
@given(pair=baseline_and_weight())
def test_weight_loss_percent_rounds_half_up_to_one_decimal(ruleset: RuleSet, pair: tuple[float, float]) -> None:
    """H3: (baseline - weight) / baseline x 100, rounded half up to 0.1, then >= 5.0 / >= 10.0."""
    baseline, weight = pair
    exact = (Decimal(str(baseline)) - Decimal(str(weight))) * 100 / Decimal(str(baseline))
    percent = exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    fired = set(evaluate(ruleset, {"weight_kg": weight}, [], baseline).rule_ids)
    expected = {"weight_loss_severe"} if percent >= 10 else {"weight_loss_fast"} if percent >= 5 else set()
    assert fired & {"weight_loss_severe", "weight_loss_fast"} == expected


@SETTINGS
@given(
    lowest=st.integers(min_value=400, max_value=1500).map(lambda tenths: tenths / 10),
    gain_hundredths=st.integers(min_value=150, max_value=250),
)
def test_weight_gain_is_exact_at_2_0_kg(ruleset: RuleSet, lowest: float, gain_hundredths: int) -> None:
    """H3: 2.0 kg above the lowest weight fires whatever float arithmetic would say."""
    weight = float(Decimal(str(lowest)) + Decimal(gain_hundredths) / 100)
    history = [PastCheckIn(taken_at=T0 - timedelta(hours=24), answers={"weight_kg": lowest})]
    fired = "weight_gain_fast" in evaluate(ruleset, {"weight_kg": weight}, history, None).rule_ids
    assert fired is (gain_hundredths >= 200)
