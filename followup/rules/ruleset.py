"""A compiled protocol: evaluate a check-in or new lab results against it."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from .conditions import Node, fmt
from .context import Context
from .data import EvaluationInput, Evidence, Finding, LabResult, Level, RuleMeta, _require_aware
from .horizon import HistoryHorizon, horizon_of

_HISTORY_WORDS = ("check-in", "result")


@dataclass(frozen=True, slots=True)
class CompiledRule:
    meta: RuleMeta
    conditions: Mapping[str, Node]  # phase -> condition
    actions: Mapping[str, str]  # phase -> action


class _Step:
    """One rule as it runs in one phase (precomputed so evaluation only reads)."""

    __slots__ = ("action", "covers", "holds", "lab_codes", "meta", "node", "red", "rule_id")

    def __init__(self, rule: CompiledRule, phase: str) -> None:
        self.rule_id = rule.meta.id
        self.node = rule.conditions[phase]
        self.holds = self.node.holds  # bound once: the hot loop calls it directly
        self.red = rule.meta.severity == "red"
        self.covers = rule.meta.covers
        self.lab_codes = frozenset(rule.meta.lab_codes)
        self.meta = rule.meta
        self.action = rule.actions[phase]


class Evaluation:
    """The result of one evaluation.

    ``level`` is the highest severity among the findings ("green" when none).
    ``findings`` holds one :class:`Finding` per rule that fired and was not
    covered, red first, then in the order of the rules file. ``suppressed`` maps
    each covered amber rule to the red rule that covered it. ``trace`` has one
    line per rule judged (fired / not fired / suppressed by X, and the history a
    rule needed and the patient does not have yet); it is rendered on demand.
    """

    __slots__ = ("_evidence", "_missing", "_plan", "findings", "level", "phase", "suppressed", "trigger")

    def __init__(
        self,
        *,
        level: Level,
        findings: list[Finding],
        suppressed: dict[str, str],
        phase: str,
        trigger: Literal["check_in", "lab"],
        plan: tuple[_Step, ...],
        evidence: dict[str, tuple[Evidence, ...]],
        missing: dict[str, str],
    ) -> None:
        self.level: Level = level
        self.findings = findings
        self.suppressed = suppressed
        self.phase = phase
        self.trigger: Literal["check_in", "lab"] = trigger
        self._plan = plan
        self._evidence = evidence
        self._missing = missing

    @property
    def rule_ids(self) -> list[str]:
        """Ids of the rules that fired (after covering), in ``findings`` order."""
        return [finding.rule_id for finding in self.findings]

    @property
    def trace(self) -> list[str]:
        lines = []
        for step in self._plan:
            head = f"{step.rule_id} ({step.meta.severity})"
            evidence = self._evidence.get(step.rule_id)
            covering = self.suppressed.get(step.rule_id)
            if covering is not None:
                lines.append(f"{head}: suppressed by {covering}")
            elif evidence is not None:
                held = "; ".join(_evidence_text(item) for item in evidence)
                lines.append(f"{head}: fired: {held}")
            elif step.rule_id in self._missing:
                lines.append(f"{head}: not fired: {_missing_text(self._missing[step.rule_id])}")
            else:
                lines.append(f"{head}: not fired")
        return lines

    def as_dict(self) -> dict[str, object]:
        return {
            "level": self.level,
            "phase": self.phase,
            "trigger": self.trigger,
            "findings": [finding.as_dict() for finding in self.findings],
            "suppressed": dict(self.suppressed),
            "trace": self.trace,
        }

    def __repr__(self) -> str:
        return f"<Evaluation {self.level} {self.rule_ids}>"


def _evidence_text(item: Evidence) -> str:
    if item.value is None:
        return f"{item.field}: {item.condition}"
    return f"{item.field} = {fmt(item.value)} ({item.condition})"


def _missing_text(what: str) -> str:
    if any(word in what for word in _HISTORY_WORDS):
        return f"needs history the patient does not have yet: {what}"
    return f"needs data not recorded for the episode: {what}"


class RuleSet:
    """A protocol's rules, compiled once by :func:`compile_rules`.

    Safe to share between threads: evaluation keeps its state in a per-call
    context and never mutates the rule set.
    """

    def __init__(self, rules: Sequence[CompiledRule], *, version: str, source: str, phases: Sequence[str]) -> None:
        self.version = version
        self.source = source
        self.phases = tuple(phases)
        self._rules = tuple(rules)
        self._meta = {rule.meta.id: rule.meta for rule in self._rules}
        # Precomputed plans: for each (trigger, phase), the rules to run in file order.
        self._plans: dict[tuple[str, str], tuple[_Step, ...]] = {}
        for trigger in ("check_in", "lab"):
            for phase in self.phases:
                self._plans[(trigger, phase)] = tuple(
                    _Step(rule, phase)
                    for rule in self._rules
                    if rule.meta.trigger == trigger and phase in rule.conditions
                )
        # Computed when the protocol loads: what each plan can read of the history, so
        # the Django side reads that much and no more (issue 17, flat cost).
        self._horizons = {key: horizon_of([step.node for step in plan]) for key, plan in self._plans.items()}

    # --- metadata ---------------------------------------------------------------

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """All rule ids, in file order."""
        return tuple(self._meta)

    @property
    def rules(self) -> tuple[RuleMeta, ...]:
        return tuple(rule.meta for rule in self._rules)

    def get(self, rule_id: str) -> RuleMeta:
        """A rule's metadata; ``KeyError`` for an id the protocol does not have."""
        try:
            return self._meta[rule_id]
        except KeyError:
            raise KeyError(f"no rule {rule_id!r} in {self.source} (version {self.version})") from None

    def rule_ids_for(self, *, phase: str, trigger: Literal["check_in", "lab"] = "check_in") -> tuple[str, ...]:
        """The rules judged for ``trigger`` in ``phase``, in file order."""
        return tuple(step.rule_id for step in self._plan(trigger, phase))

    def history_horizon(self, *, phase: str, trigger: Literal["check_in", "lab"] = "check_in") -> HistoryHorizon:
        """The history the rules judged for ``trigger`` in ``phase`` can look at."""
        self._plan(trigger, phase)  # an unknown phase raises as evaluate() does
        return self._horizons[(trigger, phase)]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._meta

    def __iter__(self) -> Iterator[RuleMeta]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self._rules)

    # --- evaluation -------------------------------------------------------------------

    def evaluate(self, data: EvaluationInput) -> Evaluation:
        """Judge one check-in: the check-in rules of ``data.phase``.

        Only history taken strictly before ``data.taken_at`` and labs observed
        at or before it are read. Lab rules are not judged here (a lab value
        would otherwise re-fire on every check-in): see :meth:`evaluate_labs`.
        """
        plan = self._plan("check_in", data.phase)
        return self._run(plan, Context.for_check_in(data), data.phase, "check_in")

    def evaluate_labs(
        self,
        *,
        labs: Sequence[LabResult],
        at: datetime,
        phase: str,
        surgery_date: date | None,
        codes: Collection[str] | None = None,
    ) -> Evaluation:
        """Judge the lab rules when staff enter lab results, without a check-in.

        ``labs`` is the patient's observations (any order); those observed after
        ``at`` are ignored, so a back-dated result is judged as things stood when
        it was taken (pass its ``observed_at`` as ``at``). ``codes`` are the codes
        just entered: only lab rules reading one of them are judged, so an old
        abnormal value does not re-fire when an unrelated result is added.
        ``None`` judges every lab rule.
        """
        _require_aware(at, "evaluate_labs(at=...)")
        plan = self._plan("lab", phase)
        if codes is not None:
            wanted = frozenset(codes)
            plan = tuple(step for step in plan if step.lab_codes & wanted)
        context = Context.for_labs(labs=labs, at=at, surgery_date=surgery_date)
        return self._run(plan, context, phase, "lab")

    def _plan(self, trigger: str, phase: str) -> tuple[_Step, ...]:
        plan = self._plans.get((trigger, phase))
        if plan is None:
            raise ValueError(f"unknown phase {phase!r}: {self.source} has phases {', '.join(self.phases)}")
        return plan

    def _run(
        self,
        plan: tuple[_Step, ...],
        context: Context,
        phase: str,
        trigger: Literal["check_in", "lab"],
    ) -> Evaluation:
        # Hot loop: one shared evidence list (a node that does not hold leaves it
        # unchanged), the missing-history note read only when a node set it.
        fired: dict[str, tuple[Evidence, ...]] = {}
        missing: dict[str, str] = {}
        fired_steps: list[_Step] = []
        evidence: list[Evidence] = []
        any_red = False
        for step in plan:
            if step.holds(context, evidence):
                fired[step.rule_id] = tuple(evidence)
                evidence.clear()
                fired_steps.append(step)
                if step.red:
                    any_red = True
            if context.missing is not None:
                missing[step.rule_id] = context.missing
                context.missing = None

        suppressed: dict[str, str] = {}
        if any_red:
            for step in fired_steps:
                if step.red:
                    for covered in step.covers:
                        if covered in fired and covered not in suppressed:
                            suppressed[covered] = step.rule_id
        reds: list[Finding] = []
        ambers: list[Finding] = []
        for step in fired_steps:
            if step.rule_id in suppressed:
                continue
            meta = step.meta
            finding = Finding(
                step.rule_id,
                meta.version,
                meta.title,
                meta.severity,
                step.action,
                meta.advice,
                fired[step.rule_id],
                meta.follow_up_check_in_hours,
            )
            (reds if step.red else ambers).append(finding)
        level: Level = "red" if reds else ("amber" if ambers else "green")
        return Evaluation(
            level=level,
            findings=reds + ambers if reds else ambers,
            suppressed=suppressed,
            phase=phase,
            trigger=trigger,
            plan=plan,
            evidence=fired,
            missing=missing,
        )
