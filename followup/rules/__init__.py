"""Vigil's rules engine: pure Python, no Django.

A protocol's rules are data (``followup/protocols/data/<protocol>/rules.yaml``),
compiled once against the protocol's questions into a :class:`RuleSet`; each
evaluation takes plain data and returns findings with their evidence.

Public API (the Django side uses exactly this)::

    from followup.rules import (
        FieldSpec, compile_rules, RuleLoadError, EvaluationInput, PastCheckIn,
        LabResult, Evaluation, Finding, Evidence,
    )

    fields = {"temperature_c": FieldSpec(type="number"),
              "wound": FieldSpec(type="choice", choices=("normal", "red", "discharge", "opened")),
              "weight_kg": FieldSpec(type="number", unit="kg"), ...}
    ruleset = compile_rules(yaml.safe_load(text), fields=fields, version="1",
                            source="followup/protocols/data/post-hepatectomy/rules.yaml")
    #   -> RuleSet; raises RuleLoadError("<source>: rule '<id>': <reason>")

    ruleset.rule_ids                  # tuple of ids, file order
    ruleset.get("fever")              # RuleMeta(id, title, severity, action, advice,
                                      #   source, version, phases, trigger, covers,
                                      #   follow_up_check_in_hours, note, lab_codes, ...)
    ruleset.get("jaundice").action_in("surveillance")   # "imaging"

    evaluation = ruleset.evaluate(EvaluationInput(
        answers={...}, taken_at=aware_datetime, phase="acute",
        day_since_discharge=3, day_since_surgery=9, baseline_weight_kg=80.0,
        history=[PastCheckIn(taken_at=..., answers={...}), ...],
        labs=[LabResult(code="bilirubin_umol_l", value=31.0, observed_at=...)],
        surgery_date=date(...),
    ))
    evaluation.level       # "red" | "amber" | "green"
    evaluation.findings    # list[Finding], red first; covered ambers removed
    evaluation.suppressed  # {"fever": "fever_high"}
    evaluation.trace       # list[str], one line per rule judged
    evaluation.as_dict()   # JSON-safe

    # What the plan of a phase can read of the history (computed when the rules compile):
    ruleset.history_horizon(phase="acute")   # HistoryHorizon(check_ins=2, windows=(...), ...)

    # Lab rules run when staff enter results, not on check-ins:
    ruleset.evaluate_labs(labs=[...], at=new_result.observed_at, phase="acute",
                          surgery_date=date(...), codes={"bilirubin_umol_l"})

``Finding(rule_id, rule_version, title, severity, action, advice, evidence,
follow_up_check_in_hours)`` and ``Evidence(field, value, condition)`` are frozen,
slotted dataclasses with ``as_dict()``; ``Finding.evidence`` is a tuple.
``Finding.action`` is the action in the evaluated phase (surveillance
``jaundice`` and ``ascites_severe``: ``imaging``).

Check-ins and labs are judged separately, on purpose: ``evaluate()`` runs the
check-in rules of the phase; ``evaluate_labs()`` runs the lab rules when staff
enter results (``codes`` = the codes just entered, so an old abnormal value does
not re-fire when an unrelated result is added, nor on every check-in: H7).

Inputs: datetimes must be timezone-aware; ``history`` may hold any submitted
check-ins (only those taken strictly before ``taken_at`` are read, in time
order whatever order they are given in); ``labs`` observed after the judging
time are ignored. Lab days after surgery are counted on ``observed_at.date()``
in the datetime's own zone: pass local times. ``baseline_weight_kg`` and lab
values may be ``Decimal`` (read as float). Answers must have the JSON type of
their question: a wrong type (or NaN) on the current check-in raises
``AnswerTypeError`` naming the question (validation should have refused it,
H4); on a past check-in it reads as "not answered".

A ``RuleSet`` is immutable and thread-safe; compile it once per protocol
version and reuse it (``bench/rules_engine.py`` measures evaluations/s).

The rule language (see the rules file for the full protocol)::

    - id: fever_high                 # unique, lower_snake_case
      title: High fever              # short English, for staff
      severity: red                  # red | amber
      action: recall_now             # recall_now | nurse_call_today | review | imaging
      advice: red                    # key of the patient advice text
      source: [S1, S5]               # clinical sources
      covers: [fever]                # ambers this red hides when both fire
      phases: [acute]                # acute | surveillance
      trigger: check_in              # check_in (default) | lab
      follow_up_check_in_hours: 12   # optional: extra check-in after the finding
      in_phase:                      # optional per-phase changes (when, action)
        surveillance: {action: imaging}
      when: <condition>

Conditions (a mapping; never evaluated as Python):

- ``{all: [c, ...]}``, ``{any: [c, ...]}``, ``{not: c}``
- ``{answer: q, <op>: x}`` with ``>=, >, <=, <, ==`` (numbers), ``== / in``
  (choice words), ``is: true|false`` (booleans) — type-checked against ``q``
- ``{answered: q}``; ``{previous: q, <op>: x}`` (the latest earlier check-in)
- ``{answer: q, rise_from|fall_from: R, as: units|percent, <op>: x}`` with R =
  ``previous``, ``baseline`` (weight_kg: the discharge weight),
  ``{lowest_within_hours: h}``, ``{earliest_within_days: d}``; percentages are
  rounded to one decimal, halves up, before comparing
- ``{consecutive: n, when: c}`` (n check-ins in a row, the current included)
- ``{within_hours: h, when: c}`` (an earlier check-in at most h hours before)
- ``{days_since: discharge|surgery, <op>: n}``
- ``{lab: code, <op>: x}`` (latest result), ``{lab: code, rise_from|fall_from|ratio_to:
  previous|lowest_since_surgery, ...}``, ``{lab: code, rises_in_a_row: n}``,
  ``{lab: code, <op>: n, times: upper_limit}`` (n x the result's upper limit of
  normal: the laboratory's reference range, else the protocol's default); each
  with optional ``from_surgery_day: d`` / ``after_surgery_day: d`` restricting the
  judged results to those taken on day >= d / > d after surgery

An absent answer, a missing previous check-in, baseline or lab result makes the
condition on it false (``not`` of it true: ``ascites`` fires on a first check-in),
and the trace says what history was missing.
"""

from .compiler import ACTIONS, DEFAULT_LAB_CODES, DEFAULT_UPPER_LIMITS, PHASES, SEVERITIES, compile_rules
from .data import (
    EvaluationInput,
    Evidence,
    FieldSpec,
    Finding,
    LabResult,
    PastCheckIn,
    RuleMeta,
)
from .errors import AnswerTypeError, RuleLoadError
from .horizon import HistoryHorizon, Predicate, Window
from .ruleset import Evaluation, RuleSet

__all__ = [
    "ACTIONS",
    "DEFAULT_LAB_CODES",
    "DEFAULT_UPPER_LIMITS",
    "PHASES",
    "SEVERITIES",
    "AnswerTypeError",
    "Evaluation",
    "EvaluationInput",
    "Evidence",
    "FieldSpec",
    "Finding",
    "HistoryHorizon",
    "LabResult",
    "PastCheckIn",
    "Predicate",
    "RuleLoadError",
    "RuleMeta",
    "RuleSet",
    "Window",
    "compile_rules",
]
