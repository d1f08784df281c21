"""Compile a protocol's rules (YAML data, already parsed) into a :class:`RuleSet`.

Every rule and every condition is checked against the protocol's questions
before anything is evaluated: an unknown question, an answer compared with a
value of another type, a choice word the question does not offer, an unknown
operator, a duplicate id or an unknown ``covers`` target raises
:class:`RuleLoadError` naming the file, the rule id and the place in the rule
(H3: a rule that silently never fires is a missed warning sign).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal, NoReturn, cast

from . import conditions as c
from .data import FIELD_TYPES, NUMERIC_FIELD_TYPES, FieldSpec, RuleMeta
from .errors import RuleLoadError
from .ruleset import CompiledRule, RuleSet

PHASES: tuple[str, ...] = ("acute", "surveillance")
SEVERITIES: tuple[str, ...] = ("red", "amber")
ACTIONS: tuple[str, ...] = ("recall_now", "nurse_call_today", "review", "imaging")
TRIGGERS: tuple[str, ...] = ("check_in", "lab")

#: Lab codes the clinic enters (SI units; see the clinical file's Labs table).
DEFAULT_LAB_CODES: frozenset[str] = frozenset(
    {"bilirubin_umol_l", "inr", "alt_u_l", "ast_u_l", "alp_u_l", "albumin_g_l", "cea_ng_ml"}
)

#: Upper limits of normal used when a result comes without the laboratory's reference
#: range (the clinical file's "Labs", v2), in the codes' SI units. A protocol may give
#: its own (``upper_limits_of_normal`` in protocol.yaml).
DEFAULT_UPPER_LIMITS: Mapping[str, float] = {
    "bilirubin_umol_l": 21.0,
    "alt_u_l": 40.0,
    "ast_u_l": 40.0,
    "alp_u_l": 130.0,
}
#: What ``times:`` may multiply: the result's upper limit of normal.
UPPER_LIMIT = "upper_limit"

#: Questions that have an episode baseline, and where the baseline comes from.
BASELINE_FIELDS: Mapping[str, str] = {"weight_kg": "baseline_weight_kg"}

_OPERATORS: dict[str, c.Compare] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "in": lambda value, options: value in options,
    "is": operator.is_,
}
_ORDERED = (">=", ">", "<=", "<")

_RULE_KEYS_REQUIRED = ("id", "title", "severity", "action", "advice", "source", "phases")
_RULE_KEYS_OPTIONAL = ("when", "covers", "trigger", "follow_up_check_in_hours", "in_phase", "note")
_PHASE_OVERRIDE_KEYS = ("when", "action")
_HEADS = (
    "all",
    "any",
    "not",
    "answer",
    "answered",
    "previous",
    "consecutive",
    "within_hours",
    "days_since",
    "lab",
)
_ANSWER_MEASURES = ("rise_from", "fall_from", "as")
_LAB_EXTRAS = (
    "rise_from",
    "fall_from",
    "ratio_to",
    "as",
    "rises_in_a_row",
    "times",
    "from_surgery_day",
    "after_surgery_day",
)
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_SOURCE_ID = re.compile(r"^S[0-9]+$")


@dataclass(frozen=True, slots=True)
class _Scope:
    """Where a condition sits: which trigger, and inside a history operator."""

    trigger: str
    shifted: bool = False


def compile_rules(
    raw_rules: Sequence[Mapping[str, Any]],
    *,
    fields: Mapping[str, FieldSpec],
    version: str,
    source: str,
    lab_codes: Collection[str] = DEFAULT_LAB_CODES,
    phases: Sequence[str] = PHASES,
    upper_limits: Mapping[str, float] = DEFAULT_UPPER_LIMITS,
) -> RuleSet:
    """Check and compile a protocol's rules once; evaluate the result many times.

    ``raw_rules`` is the list a ``rules.yaml`` file holds (``yaml.safe_load``),
    ``fields`` the protocol's questions, ``version`` the protocol version stamped
    on every finding, ``source`` the file path used in error messages,
    ``upper_limits`` the default upper limits of normal (SI) that ``times:
    upper_limit`` falls back on. Raises :class:`RuleLoadError`.
    """
    return _Compiler(
        fields=fields,
        version=version,
        source=source,
        lab_codes=frozenset(lab_codes),
        phases=tuple(phases),
        upper_limits=dict(upper_limits),
    ).run(raw_rules)


class _Compiler:
    def __init__(
        self,
        *,
        fields: Mapping[str, FieldSpec],
        version: str,
        source: str,
        lab_codes: frozenset[str],
        phases: tuple[str, ...],
        upper_limits: Mapping[str, float] | None = None,
    ) -> None:
        self.upper_limits = dict(DEFAULT_UPPER_LIMITS if upper_limits is None else upper_limits)
        self.fields = fields
        self.version = str(version)
        self.source = source
        self.lab_codes = lab_codes
        self.phases = phases
        self.rule_id: str | None = None
        for name, spec in fields.items():
            self._check_field_spec(name, spec)

    # --- errors -------------------------------------------------------------------

    def fail(self, reason: str, path: str | None = None) -> NoReturn:
        raise RuleLoadError(self.source, self.rule_id, f"{path}: {reason}" if path else reason)

    def _check_field_spec(self, name: str, spec: FieldSpec) -> None:
        if spec.type not in FIELD_TYPES:
            self.fail(f"question {name!r} has unknown type {spec.type!r} ({', '.join(FIELD_TYPES)})")
        if spec.type == "choice" and not spec.choices:
            self.fail(f"choice question {name!r} lists no choices")

    # --- rules ----------------------------------------------------------------------

    def run(self, raw_rules: Sequence[Mapping[str, Any]]) -> RuleSet:
        if isinstance(raw_rules, (str, bytes)) or not isinstance(raw_rules, Sequence):
            self.fail("the rules file must hold a list of rules")
        compiled: list[CompiledRule] = []
        seen: set[str] = set()
        for index, raw in enumerate(raw_rules):
            self.rule_id = None
            rule = self._rule(raw, index)
            if rule.meta.id in seen:
                self.fail("duplicate rule id (each id must appear once)")
            seen.add(rule.meta.id)
            compiled.append(rule)
        self._check_covers(compiled)
        self.rule_id = None
        return RuleSet(compiled, version=self.version, source=self.source, phases=self.phases)

    def _rule(self, raw: object, index: int) -> CompiledRule:
        if not isinstance(raw, Mapping):
            self.fail(f"entry #{index + 1} must be a mapping with an id, got {raw!r}")
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
            self.fail(f"entry #{index + 1} needs an id of lower-case letters, digits and _, got {rule_id!r}")
        self.rule_id = rule_id
        for key in raw:
            if key not in _RULE_KEYS_REQUIRED and key not in _RULE_KEYS_OPTIONAL:
                self.fail(f"unknown key {key!r} (allowed: {', '.join(_RULE_KEYS_REQUIRED + _RULE_KEYS_OPTIONAL)})")
        for key in _RULE_KEYS_REQUIRED:
            if key not in raw:
                self.fail(f"missing key {key!r}")

        title = self._text(raw["title"], "title")
        severity = raw["severity"]
        if severity not in SEVERITIES:
            self.fail(f"bad severity {severity!r} (red or amber)")
        action = self._action(raw["action"], "action")
        advice = self._text(raw["advice"], "advice")
        sources = self._sources(raw["source"])
        phases = self._phases(raw["phases"])
        trigger = raw.get("trigger", "check_in")
        if trigger not in TRIGGERS:
            self.fail(f"bad trigger {trigger!r} ({', '.join(TRIGGERS)})")
        covers = self._id_list(raw.get("covers", []), "covers")
        follow_up = raw.get("follow_up_check_in_hours")
        if follow_up is not None:
            if follow_up.__class__ is not int or follow_up <= 0:
                self.fail(f"follow_up_check_in_hours must be a whole number of hours > 0, got {follow_up!r}")
            if trigger != "check_in":
                self.fail("follow_up_check_in_hours only applies to check-in rules")
        note = raw.get("note")
        if note is not None:
            note = self._text(note, "note")

        overrides = raw.get("in_phase", {})
        if not isinstance(overrides, Mapping):
            self.fail("in_phase must map a phase to its changes, e.g. {surveillance: {when: ...}}")
        for phase, change in overrides.items():
            if phase not in phases:
                self.fail(f"in_phase: {phase!r} is not one of this rule's phases {list(phases)}")
            if not isinstance(change, Mapping) or not change:
                self.fail(f"in_phase.{phase} must be a mapping with when and/or action")
            for key in change:
                if key not in _PHASE_OVERRIDE_KEYS:
                    self.fail(f"in_phase.{phase}: unknown key {key!r} (allowed: when, action)")

        scope = _Scope(trigger=trigger)
        default_node = self._condition(raw["when"], "when", scope) if "when" in raw else None
        nodes: dict[str, c.Node] = {}
        actions: dict[str, str] = {}
        for phase in phases:
            change = overrides.get(phase, {})
            if "when" in change:
                nodes[phase] = self._condition(change["when"], f"in_phase.{phase}.when", scope)
            elif default_node is not None:
                nodes[phase] = default_node
            else:
                self.fail(f"missing key 'when' (no condition for phase {phase!r})")
            actions[phase] = (
                self._action(change["action"], f"in_phase.{phase}.action") if "action" in change else action
            )

        lab_codes: set[str] = set()
        for node in set(nodes.values()):
            _collect_lab_codes(node, lab_codes)
        meta = RuleMeta(
            id=rule_id,
            title=title,
            severity=cast(Literal["red", "amber"], severity),
            action=action,
            advice=advice,
            source=sources,
            version=self.version,
            phases=phases,
            trigger=cast(Literal["check_in", "lab"], trigger),
            covers=covers,
            follow_up_check_in_hours=follow_up,
            note=note,
            lab_codes=tuple(sorted(lab_codes)),
            phase_actions=tuple((phase, actions[phase]) for phase in phases if actions[phase] != action),
        )
        return CompiledRule(meta=meta, conditions=nodes, actions=actions)

    def _text(self, value: object, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{key} must be a non-empty text, got {value!r}")
        return value

    def _action(self, value: object, key: str) -> str:
        if value not in ACTIONS:
            self.fail(f"{key}: bad action {value!r} ({', '.join(ACTIONS)})")
        return cast(str, value)

    def _sources(self, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.fail(f"source must be a non-empty list such as [S1, S5], got {value!r}")
        for item in value:
            if not isinstance(item, str) or not _SOURCE_ID.match(item):
                self.fail(f"source: {item!r} is not a source id such as S1")
        return tuple(value)

    def _phases(self, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.fail(f"phases must be a non-empty list such as [acute], got {value!r}")
        for item in value:
            if item not in self.phases:
                self.fail(f"phases: unknown phase {item!r} ({', '.join(self.phases)})")
        if len(set(value)) != len(value):
            self.fail("phases: a phase is listed twice")
        return tuple(value)

    def _id_list(self, value: object, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail(f"{key} must be a list of rule ids, got {value!r}")
        return tuple(value)

    def _check_covers(self, rules: list[CompiledRule]) -> None:
        by_id = {rule.meta.id: rule.meta for rule in rules}
        for rule in rules:
            meta = rule.meta
            if not meta.covers:
                continue
            self.rule_id = meta.id
            if meta.severity != "red":
                self.fail("covers: only a red rule may cover other rules")
            for target_id in meta.covers:
                target = by_id.get(target_id)
                if target is None:
                    self.fail(f"covers unknown rule {target_id!r}")
                if target.severity != "amber":
                    self.fail(f"covers {target_id!r}, which is red: a red finding is never hidden")
                if target.trigger != meta.trigger:
                    self.fail(f"covers {target_id!r}, which is judged on a different trigger ({target.trigger})")

    # --- conditions -------------------------------------------------------------------

    def _condition(self, raw: object, path: str, scope: _Scope) -> c.Node:
        if not isinstance(raw, Mapping) or not raw:
            self.fail(
                f"a condition must be a mapping such as {{answer: temperature_c, '>=': 38.5}}, got {raw!r}",
                path,
            )
        for key in raw:
            if not isinstance(key, str):
                self.fail(f"unknown operator or function {key!r}", path)
        head = next((key for key in _HEADS if key in raw), None)
        if head is None:
            key = next(iter(raw))
            self.fail(
                f"unknown operator or function {key!r} (a condition starts with one of {', '.join(_HEADS)})", path
            )
        if head in ("all", "any"):
            self._only(raw, (head,), path)
            items = raw[head]
            if not isinstance(items, list) or not items:
                self.fail(f"{head} needs a non-empty list of conditions", path)
            children = [self._condition(item, f"{path}.{head}[{i}]", scope) for i, item in enumerate(items)]
            if len(children) == 1:
                return children[0]
            return c.All(children) if head == "all" else c.Any_(children)
        if head == "not":
            self._only(raw, ("not",), path)
            return c.Not(self._condition(raw["not"], f"{path}.not", scope))
        if head in ("consecutive", "within_hours"):
            return self._history(raw, head, path, scope)
        if head == "lab":
            return self._lab(raw, path, scope)
        if scope.trigger == "lab":
            self.fail(f"{head!r} reads a check-in; a lab rule can only read lab results", path)
        if head == "answered":
            self._only(raw, ("answered",), path)
            return c.Answered(self._field_name(raw["answered"], path)[0])
        if head == "days_since":
            return self._days_since(raw, path, scope)
        if head == "previous":
            name, spec = self._field_name(raw["previous"], path)
            op, operand = self._one_operator(raw, ("previous",), (), path)
            kind, compare, value, text = self._typed(name, spec, op, operand, path)
            return c.PreviousCompare(name, kind, compare, value, text)
        return self._answer(raw, path)

    def _only(self, raw: Mapping[str, Any], allowed: Sequence[str], path: str) -> None:
        for key in raw:
            if key not in allowed:
                self.fail(f"unknown operator or function {key!r} beside {allowed[0]!r}", path)

    def _one_operator(
        self, raw: Mapping[str, Any], heads: Sequence[str], extras: Sequence[str], path: str
    ) -> tuple[str, object]:
        ops = [key for key in raw if key in _OPERATORS]
        for key in raw:
            if key not in _OPERATORS and key not in heads and key not in extras:
                self.fail(f"unknown operator or function {key!r}", path)
        if len(ops) != 1:
            self.fail(f"needs exactly one comparison ({', '.join(_OPERATORS)}), got {len(ops)}", path)
        return ops[0], raw[ops[0]]

    def _field_name(self, value: object, path: str) -> tuple[str, FieldSpec]:
        if not isinstance(value, str):
            self.fail(f"a question id is expected, got {value!r}", path)
        spec = self.fields.get(value)
        if spec is None:
            self.fail(f"unknown question {value!r}", path)
        return value, spec

    def _typed(
        self, name: str, spec: FieldSpec, op: str, operand: object, path: str
    ) -> tuple[str, c.Compare, object, str]:
        """Check ``<question> <op> <operand>`` for type and build the comparison."""
        compare = _OPERATORS[op]
        if spec.type == "boolean":
            if op != "is" or operand.__class__ is not bool:
                self.fail(
                    f"type mismatch: {name!r} is a boolean question and cannot be compared "
                    f"with {op} {operand!r}; use 'is: true' or 'is: false'",
                    path,
                )
            return c.BOOLEAN, compare, operand, f"is {c.fmt(operand)}"
        if spec.type == "choice":
            choices = spec.choices or ()
            if op == "==":
                words: list[object] = [operand]
            elif op == "in":
                if not isinstance(operand, list) or not operand:
                    self.fail(f"'in' needs a non-empty list of {name!r} choices, got {operand!r}", path)
                words = list(operand)
            else:
                self.fail(
                    f"type mismatch: {name!r} is a choice question: compare it with == or in "
                    f"(choices have no order), not {op}",
                    path,
                )
            for word in words:
                if not isinstance(word, str) or word not in choices:
                    self.fail(
                        f"type mismatch: {name!r} has no choice {word!r} (choices: {', '.join(choices)})",
                        path,
                    )
            if op == "in":
                return c.CHOICE, compare, frozenset(words), f"in {c.fmt(words)}"
            return c.CHOICE, compare, operand, f"== {operand}"
        # integer, number, scale
        if op == "is":
            self.fail(f"type mismatch: {name!r} is a {spec.type} question; 'is' is for boolean questions", path)
        if op == "in":
            if not isinstance(operand, list) or not operand or not all(_is_number(item) for item in operand):
                self.fail(f"type mismatch: 'in' on {name!r} needs a non-empty list of numbers, got {operand!r}", path)
            return c.NUMERIC, compare, frozenset(operand), f"in {c.fmt(operand)}"
        if not _is_number(operand):
            self.fail(
                f"type mismatch: {name!r} is a {spec.type} question and cannot be compared with {operand!r}", path
            )
        return c.NUMERIC, compare, operand, f"{op} {c.fmt(operand)}"

    def _answer(self, raw: Mapping[str, Any], path: str) -> c.Node:
        name, spec = self._field_name(raw["answer"], path)
        op, operand = self._one_operator(raw, ("answer",), _ANSWER_MEASURES, path)
        measures = [key for key in ("rise_from", "fall_from") if key in raw]
        if not measures:
            if "as" in raw:
                self.fail("'as' needs rise_from or fall_from", path)
            kind, compare, value, text = self._typed(name, spec, op, operand, path)
            node_class = {c.BOOLEAN: c.AnswerIs, c.NUMERIC: c.AnswerNumber}.get(kind, c.AnswerCompare)
            return node_class(name, kind, compare, value, text)
        if len(measures) > 1:
            self.fail("use either rise_from or fall_from, not both", path)
        if spec.type not in NUMERIC_FIELD_TYPES:
            self.fail(f"type mismatch: {measures[0]} needs a numeric question; {name!r} is {spec.type}", path)
        reference, window, window_text = self._answer_reference(name, raw[measures[0]], f"{path}.{measures[0]}")
        threshold = self._threshold(op, operand, path)
        return c.AnswerChange(
            field=name,
            rise=measures[0] == "rise_from",
            reference=reference,
            window=window,
            window_text=window_text,
            percent=self._as_percent(raw, path),
            compare=_OPERATORS[op],
            threshold=threshold,
            op_text=op,
            unit=spec.unit,
        )

    def _answer_reference(self, name: str, value: object, path: str) -> tuple[str, timedelta | None, str]:
        if value == c.FROM_PREVIOUS:
            return c.FROM_PREVIOUS, None, ""
        if value == c.FROM_BASELINE:
            if name not in BASELINE_FIELDS:
                self.fail(f"no baseline for {name!r} (only {', '.join(BASELINE_FIELDS)} has one)", path)
            return c.FROM_BASELINE, None, ""
        if isinstance(value, Mapping) and len(value) == 1:
            ((key, amount),) = value.items()
            if key == c.FROM_LOWEST_WITHIN_HOURS and _is_positive(amount):
                return key, timedelta(hours=amount), f"{c.fmt(amount)} h"
            if key == c.FROM_EARLIEST_WITHIN_DAYS and _is_positive(amount):
                return key, timedelta(days=amount), f"{c.fmt(amount)} days"
        self.fail(
            f"unknown reference {value!r} (previous, baseline, {{lowest_within_hours: h}} "
            "or {earliest_within_days: d}, with h and d > 0)",
            path,
        )

    def _as_percent(self, raw: Mapping[str, Any], path: str) -> bool:
        unit = raw.get("as", "units")
        if unit not in ("units", "percent"):
            self.fail(f"'as' must be units or percent, got {unit!r}", path)
        return bool(unit == "percent")

    def _threshold(self, op: str, operand: object, path: str) -> Decimal:
        if op not in _ORDERED:
            self.fail(f"a change is compared with {', '.join(_ORDERED)}, not {op}", path)
        if not _is_number(operand):
            self.fail(f"type mismatch: a change is compared with a number, got {operand!r}", path)
        return c.to_decimal(cast(float, operand))

    def _history(self, raw: Mapping[str, Any], head: str, path: str, scope: _Scope) -> c.Node:
        self._only(raw, (head, "when"), path)
        if scope.trigger == "lab":
            self.fail(f"{head!r} reads check-ins; a lab rule can only read lab results", path)
        if "when" not in raw:
            self.fail(f"{head!r} needs 'when': the condition to find on earlier check-ins", path)
        amount = raw[head]
        child = self._condition(raw["when"], f"{path}.when", _Scope(trigger=scope.trigger, shifted=True))
        if head == "consecutive":
            if amount.__class__ is not int or amount < 2:
                self.fail(f"consecutive needs a whole number of check-ins >= 2, got {amount!r}", path)
            return c.Consecutive(amount, child)
        if not _is_positive(amount):
            self.fail(f"within_hours needs a number of hours > 0, got {amount!r}", path)
        return c.WithinHours(amount, child)

    def _days_since(self, raw: Mapping[str, Any], path: str, scope: _Scope) -> c.Node:
        which = raw["days_since"]
        if which not in ("discharge", "surgery"):
            self.fail(f"days_since must be discharge or surgery, got {which!r}", path)
        if scope.shifted:
            self.fail("days_since cannot be used inside consecutive or within_hours", path)
        op, operand = self._one_operator(raw, ("days_since",), (), path)
        if op not in _ORDERED and op != "==":
            self.fail(f"days_since is compared with {', '.join(_ORDERED)} or ==, not {op}", path)
        if operand.__class__ is not int:
            self.fail(f"type mismatch: days_since is compared with a whole number, got {operand!r}", path)
        return c.DaysSince(cast(str, which), _OPERATORS[op], operand, f"{op} {operand}")

    def _lab(self, raw: Mapping[str, Any], path: str, scope: _Scope) -> c.Node:
        code = raw["lab"]
        if not isinstance(code, str) or code not in self.lab_codes:
            self.fail(f"unknown lab code {code!r} (known: {', '.join(sorted(self.lab_codes))})", path)
        if scope.shifted:
            self.fail("lab results cannot be read inside consecutive or within_hours", path)
        for key in raw:
            if key != "lab" and key not in _OPERATORS and key not in _LAB_EXTRAS:
                self.fail(f"unknown operator or function {key!r}", path)
        min_day, day_text = self._lab_day(raw, path)
        if "rises_in_a_row" in raw:
            count = raw["rises_in_a_row"]
            self._only(raw, ("lab", "rises_in_a_row", "from_surgery_day", "after_surgery_day"), path)
            if count.__class__ is not int or count < 1:
                self.fail(f"rises_in_a_row needs a whole number >= 1, got {count!r}", path)
            return c.LabRisesInARow(code, count, min_day, day_text)
        if "times" in raw:
            return self._lab_times_limit(raw, code, path, min_day, day_text)
        op, operand = self._one_operator(raw, ("lab",), _LAB_EXTRAS, path)
        modes = [key for key in ("rise_from", "fall_from", "ratio_to") if key in raw]
        if not modes:
            if "as" in raw:
                self.fail("'as' needs rise_from or fall_from", path)
            if op not in _ORDERED and op != "==":
                self.fail(f"a lab result is compared with {', '.join(_ORDERED)} or ==, not {op}", path)
            if not _is_number(operand):
                self.fail(f"type mismatch: lab {code!r} is a number and cannot be compared with {operand!r}", path)
            return c.LabCompare(code, _OPERATORS[op], operand, f"{op} {c.fmt(operand)}", min_day, day_text)
        if len(modes) > 1:
            self.fail(f"use one of rise_from, fall_from, ratio_to, not {' and '.join(modes)}", path)
        mode = modes[0]
        reference = raw[mode]
        if reference not in (c.FROM_PREVIOUS, c.FROM_LOWEST_SINCE_SURGERY):
            self.fail(f"{mode}: unknown reference {reference!r} (previous or lowest_since_surgery)", f"{path}")
        if mode == "ratio_to" and "as" in raw:
            self.fail("'as' does not apply to ratio_to", path)
        return c.LabChange(
            code=code,
            mode={"rise_from": "rise", "fall_from": "fall", "ratio_to": "ratio"}[mode],
            reference=cast(str, reference),
            percent=self._as_percent(raw, path),
            compare=_OPERATORS[op],
            threshold=self._threshold(op, operand, path),
            op_text=op,
            min_day=min_day,
            day_text=day_text,
        )

    def _lab_times_limit(
        self, raw: Mapping[str, Any], code: str, path: str, min_day: int | None, day_text: str
    ) -> c.Node:
        """``{lab: code, <op>: n, times: upper_limit}``: n x the result's upper limit."""
        if raw["times"] != UPPER_LIMIT:
            self.fail(f"times: unknown limit {raw['times']!r} ({UPPER_LIMIT})", path)
        for key in ("rise_from", "fall_from", "ratio_to", "as"):
            if key in raw:
                self.fail(f"{key!r} does not apply with times", path)
        op, operand = self._one_operator(raw, ("lab",), _LAB_EXTRAS, path)
        if op not in _ORDERED:
            self.fail(f"a multiple of the upper limit is compared with {', '.join(_ORDERED)}, not {op}", path)
        if not _is_positive(operand):
            self.fail(f"times upper_limit needs a number > 0, got {operand!r}", path)
        default = self.upper_limits.get(code)
        if default is None or not _is_positive(default):
            self.fail(f"no default upper limit of normal for {code!r} (upper_limits_of_normal)", path)
        return c.LabCompareToLimit(
            code=code,
            compare=_OPERATORS[op],
            multiple=c.to_decimal(cast(float, operand)),
            default_limit=float(default),
            op_text=op,
            min_day=min_day,
            day_text=day_text,
        )

    def _lab_day(self, raw: Mapping[str, Any], path: str) -> tuple[int | None, str]:
        if "from_surgery_day" in raw and "after_surgery_day" in raw:
            self.fail("use either from_surgery_day or after_surgery_day", path)
        for key, shift, words in (
            ("from_surgery_day", 0, "on day {} or later after surgery"),
            ("after_surgery_day", 1, "after day {} after surgery"),
        ):
            if key in raw:
                day = raw[key]
                if day.__class__ is not int or day < 0:
                    self.fail(f"{key} needs a whole number of days >= 0, got {day!r}", path)
                return day + shift, words.format(day)
        return None, ""


def _is_number(value: object) -> bool:
    return (value.__class__ is int or value.__class__ is float) and math.isfinite(cast(float, value))


def _is_positive(value: object) -> bool:
    return _is_number(value) and cast(float, value) > 0


def _collect_lab_codes(node: c.Node, into: set[str]) -> None:
    if isinstance(node, c.LabLeaf):
        into.add(node.code)
    elif isinstance(node, (c.All, c.Any_)):
        for child in node.children:
            _collect_lab_codes(child, into)
    elif isinstance(node, (c.Not, c.Consecutive, c.WithinHours)):
        _collect_lab_codes(node.child, into)
