"""Compiled condition nodes.

Each node answers ``holds(ctx, evidence)``. When ``evidence`` is a list, a node
that holds appends one :class:`Evidence` per condition that made it hold; a node
that does not hold leaves the list as it found it. ``evidence=None`` means "only
the truth value is wanted" (inside ``not``), which lets ``any`` short-circuit.

Missing data never crashes and never makes a comparison hold: an absent answer,
a first check-in with no previous one, a missing baseline weight or lab result
make the condition on it false. When the missing part is *history* (or the
baseline), the node notes it on the context so the trace can say "needs history
the patient does not have yet: previous check-in".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from decimal import Context as DecimalContext
from itertools import pairwise
from typing import Any

from .context import Context
from .data import Evidence, EvidenceValue, LabResult
from .errors import AnswerTypeError

Compare = Callable[[Any, Any], Any]
EvidenceList = list[Evidence] | None

# Kinds of answer a leaf reads; the compiler maps question types onto them.
NUMERIC = "a number"
BOOLEAN = "true or false"
CHOICE = "one of the listed words"
_CLASSES: dict[str, tuple[type, ...]] = {
    NUMERIC: (int, float),
    BOOLEAN: (bool,),
    CHOICE: (str,),
}

# Percentages and kilogram differences are computed in decimal from the shortest
# repr of each float, so 80.0 -> 76.04 is exactly 4.95 % (rounded half up to
# 5.0 %), and 70.1 - 68.1 is exactly 2.0 kg, not 1.9999999999999915.
_DECIMAL = DecimalContext(prec=28)
_ONE_DECIMAL = Decimal("0.1")
_HUNDRED = Decimal(100)


def to_decimal(value: int | float) -> Decimal:
    return Decimal(repr(value)) if value.__class__ is float else Decimal(value)


def percent_of(delta: Decimal, reference: Decimal) -> Decimal:
    """delta / reference x 100, rounded to one decimal, halves up."""
    raw = _DECIMAL.divide(_DECIMAL.multiply(delta, _HUNDRED), reference)
    return raw.quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP, context=_DECIMAL)


def fmt(value: object) -> str:
    """A value as a clinician reads it in evidence (true, 38.5, mild)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "no answer"
    if isinstance(value, (list, tuple, frozenset, set)):
        return "[" + ", ".join(fmt(item) for item in value) + "]"
    return str(value)


def fmt_time(value: datetime) -> str:
    return value.isoformat(timespec="minutes")


def _with_unit(text: str, unit: str | None) -> str:
    return f"{text} {unit}" if unit else text


def _read(ctx: Context, field: str, kind: str) -> Any:
    """An answer of the right type, or None when absent.

    A wrong type on the current check-in raises (validation should have caught
    it, H4); on a past check-in (perhaps an older protocol version) it reads as
    absent.
    """
    value = ctx.answers.get(field)
    if value is None or value.__class__ in _CLASSES[kind]:
        return value
    if ctx.strict:
        raise AnswerTypeError(field, value, kind)
    return None


def _past_value(value: object, kind: str) -> Any:
    """An answer of a past check-in, or None when absent or of another type."""
    if value is None or value.__class__ in _CLASSES[kind]:
        if kind is NUMERIC and value is not None and not _finite(value):
            return None
        return value
    return None


_INFINITIES = (math.inf, -math.inf)


def _finite(value: Any) -> bool:
    # NaN is the one value unequal to itself; it compares false with every
    # threshold, so it must never reach a comparison as if it were a number.
    return value == value and value not in _INFINITIES


def _checked_number(ctx: Context, field: str, value: Any) -> Any:
    """The number answered, None when absent; a non-number or a NaN/infinity on
    the current check-in raises (H4), on a past one reads as absent."""
    if value is None:
        return None
    if (value.__class__ is int or value.__class__ is float) and _finite(value):
        return value
    if ctx.strict:
        raise AnswerTypeError(field, value, "a finite number")
    return None


class Node:
    __slots__ = ()

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def negation_evidence(self, ctx: Context) -> Evidence:
        """Evidence for ``not`` when this node does not hold."""
        return Evidence("", None, f"not ({self.describe()})")


# --- combinators -----------------------------------------------------------


class All(Node):
    __slots__ = ("children",)

    def __init__(self, children: Sequence[Node]) -> None:
        self.children = tuple(children)

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        if evidence is None:
            for child in self.children:  # noqa: SIM110 - a plain loop is faster on this hot path
                if not child.holds(ctx, None):
                    return False
            return True
        mark = len(evidence)
        for child in self.children:
            if not child.holds(ctx, evidence):
                del evidence[mark:]
                return False
        return True

    def describe(self) -> str:
        return " and ".join(f"({child.describe()})" for child in self.children)


class Any_(Node):
    """``any``: every branch that holds gives its evidence (no short-circuit)."""

    __slots__ = ("children",)

    def __init__(self, children: Sequence[Node]) -> None:
        self.children = tuple(children)

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        if evidence is None:
            for child in self.children:  # noqa: SIM110 - a plain loop is faster on this hot path
                if child.holds(ctx, None):
                    return True
            return False
        held = False
        for child in self.children:
            if child.holds(ctx, evidence):
                held = True
        return held

    def describe(self) -> str:
        return " or ".join(f"({child.describe()})" for child in self.children)


class Not(Node):
    __slots__ = ("child",)

    def __init__(self, child: Node) -> None:
        self.child = child

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        if self.child.holds(ctx, None):
            return False
        if evidence is not None:
            evidence.append(self.child.negation_evidence(ctx))
        return True

    def describe(self) -> str:
        return f"not ({self.child.describe()})"


# --- answers of the check-in being judged ------------------------------------


class AnswerCompare(Node):
    """``{answer: q, <op>: x}``: the answer to q compared with x."""

    __slots__ = ("classes", "compare", "field", "kind", "operand", "text")

    def __init__(self, field: str, kind: str, compare: Compare, operand: object, text: str) -> None:
        self.field = field
        self.kind = kind
        self.classes = _CLASSES[kind]
        self.compare = compare
        self.operand = operand
        self.text = text

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        value: Any = ctx.answers.get(self.field)
        if value is None:
            return False
        if value.__class__ not in self.classes:
            value = _read(ctx, self.field, self.kind)
            if value is None:
                return False
        if not self.compare(value, self.operand):
            return False
        if evidence is not None:
            evidence.append(Evidence(self.field, value, self.text))
        return True

    def describe(self) -> str:
        return f"{self.field} {self.text}"

    def negation_evidence(self, ctx: Context) -> Evidence:
        value = _read(ctx, self.field, self.kind)
        return Evidence(self.field, value, f"not ({self.text})")


class AnswerNumber(AnswerCompare):
    """``{answer: q, <op>: x}`` on a numeric question."""

    __slots__ = ()

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        value: Any = ctx.answers.get(self.field)
        if value is None:
            return False
        if (value.__class__ is not float and value.__class__ is not int) or value != value or value in _INFINITIES:
            value = _checked_number(ctx, self.field, value)
            if value is None:
                return False
        if not self.compare(value, self.operand):
            return False
        if evidence is not None:
            evidence.append(Evidence(self.field, value, self.text))
        return True


class AnswerIs(AnswerCompare):
    """``{answer: q, is: true|false}`` on a boolean question (the commonest leaf)."""

    __slots__ = ()

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        value = ctx.answers.get(self.field)
        if value is not self.operand:
            if value is not None and value.__class__ is not bool:
                _read(ctx, self.field, BOOLEAN)  # raises on the current check-in
            return False
        if evidence is not None:
            evidence.append(Evidence(self.field, self.operand is True, self.text))
        return True


class Answered(Node):
    """``{answered: q}``: the check-in has an answer to q."""

    __slots__ = ("field",)

    def __init__(self, field: str) -> None:
        self.field = field

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        value = ctx.answers.get(self.field)
        if value is None:
            return False
        if evidence is not None:
            evidence.append(Evidence(self.field, _json_safe(value), "answered"))
        return True

    def describe(self) -> str:
        return f"{self.field} answered"

    def negation_evidence(self, ctx: Context) -> Evidence:
        return Evidence(self.field, None, "not answered")


class PreviousCompare(Node):
    """``{previous: q, <op>: x}``: the answer to q on the previous check-in."""

    __slots__ = ("compare", "field", "kind", "operand", "text")

    def __init__(self, field: str, kind: str, compare: Compare, operand: object, text: str) -> None:
        self.field = field
        self.kind = kind
        self.compare = compare
        self.operand = operand
        self.text = text

    def _previous(self, ctx: Context) -> tuple[Any, datetime | None]:
        history, count = ctx.earlier()
        if count == 0:
            ctx.note_missing("previous check-in")
            return None, None
        past = history[count - 1]
        return _past_value(past.answers.get(self.field), self.kind), past.taken_at

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        value, taken_at = self._previous(ctx)
        if value is None or not self.compare(value, self.operand):
            return False
        if evidence is not None and taken_at is not None:
            evidence.append(
                Evidence(
                    self.field,
                    value,
                    f"{self.text} on the previous check-in ({fmt_time(taken_at)})",
                )
            )
        return True

    def describe(self) -> str:
        return f"{self.field} {self.text} on the previous check-in"

    def negation_evidence(self, ctx: Context) -> Evidence:
        value, taken_at = self._previous(ctx)
        if taken_at is None:
            return Evidence(self.field, None, f"no previous check-in (so not {self.text} on it)")
        return Evidence(
            self.field,
            value,
            f"not ({self.text}) on the previous check-in ({fmt_time(taken_at)})",
        )


# Reference points a change is measured from.
FROM_PREVIOUS = "previous"
FROM_BASELINE = "baseline"
FROM_LOWEST_WITHIN_HOURS = "lowest_within_hours"
FROM_EARLIEST_WITHIN_DAYS = "earliest_within_days"
FROM_LOWEST_SINCE_SURGERY = "lowest_since_surgery"


class AnswerChange(Node):
    """``{answer: q, rise_from|fall_from: ref, as: units|percent, <op>: x}``.

    The change of the current answer from a reference value: the previous
    check-in, the episode's baseline, the lowest value among the earlier
    check-ins of the last H hours, or the earliest check-in of the last D days.
    Percentages are (reference - value) / reference x 100 for a fall (value -
    reference for a rise), rounded to one decimal, halves up, before comparing.
    """

    __slots__ = (
        "compare",
        "field",
        "margin",
        "op_text",
        "percent",
        "reference",
        "rise",
        "threshold",
        "threshold_float",
        "unit",
        "window",
        "window_text",
    )

    def __init__(
        self,
        *,
        field: str,
        rise: bool,
        reference: str,
        window: timedelta | None,
        window_text: str,
        percent: bool,
        compare: Compare,
        threshold: Decimal,
        op_text: str,
        unit: str | None,
    ) -> None:
        self.field = field
        self.rise = rise
        self.reference = reference
        self.window = window
        self.window_text = window_text
        self.percent = percent
        self.compare = compare
        self.threshold = threshold
        self.op_text = op_text
        self.unit = unit
        # Fast path: far enough from the threshold, plain float arithmetic gives
        # the same answer as the exact decimal one (rounding to 0.1 moves a
        # percentage by at most 0.05; float error is ~1e-13). Near it, and to
        # write the evidence, the exact decimal computation decides.
        self.threshold_float = float(threshold)
        self.margin = 0.1 if percent else 1e-6

    def _reference_value(self, ctx: Context) -> tuple[Any, datetime | None] | None:
        """The reference value and, for a past check-in, when it was taken."""
        field = self.field
        if self.reference == FROM_BASELINE:
            baseline = ctx.root.baseline_weight_kg
            if baseline is None:
                ctx.note_missing("baseline weight")
                return None
            return baseline, None
        history, count = ctx.earlier()
        if self.reference == FROM_PREVIOUS:
            if count == 0:
                ctx.note_missing("previous check-in")
                return None
            past = history[count - 1]
            value = _past_value(past.answers.get(field), NUMERIC)
            return None if value is None else (value, past.taken_at)
        assert self.window is not None
        cutoff = ctx.taken_at - self.window
        if self.reference == FROM_LOWEST_WITHIN_HOURS:
            lowest: Any = None
            index = count - 1
            while index >= 0 and history[index].taken_at >= cutoff:
                value = _past_value(history[index].answers.get(field), NUMERIC)
                if value is not None and (lowest is None or value < lowest):
                    lowest = value
                index -= 1
            if lowest is None:
                ctx.note_missing(f"an earlier check-in with {field} in the last {self.window_text}")
                return None
            return lowest, None
        # FROM_EARLIEST_WITHIN_DAYS
        index = 0
        while index < count and history[index].taken_at < cutoff:
            index += 1
        while index < count:
            past = history[index]
            value = _past_value(past.answers.get(field), NUMERIC)
            if value is not None:
                return value, past.taken_at
            index += 1
        ctx.note_missing(f"an earlier check-in with {field} in the last {self.window_text}")
        return None

    def _reference_text(self, value: Any, taken_at: datetime | None) -> str:
        shown = _with_unit(fmt(value), self.unit)
        if self.reference == FROM_BASELINE:
            return f"baseline {shown}"
        if self.reference == FROM_PREVIOUS and taken_at is not None:
            return f"{shown} on the previous check-in ({fmt_time(taken_at)})"
        if self.reference == FROM_LOWEST_WITHIN_HOURS:
            return f"the lowest {shown} among the earlier check-ins of the last {self.window_text}"
        stamp = f" ({fmt_time(taken_at)})" if taken_at is not None else ""
        return f"{shown} on the earliest check-in of the last {self.window_text}{stamp}"

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        value: Any = ctx.answers.get(self.field)
        if value is None:
            return False
        if (value.__class__ is not float and value.__class__ is not int) or value != value or value in _INFINITIES:
            value = _checked_number(ctx, self.field, value)
            if value is None:
                return False
        found = self._reference_value(ctx)
        if found is None:
            return False
        reference, taken_at = found
        if self.percent and reference <= 0:
            return False
        approximate = value - reference if self.rise else reference - value
        if self.percent:
            approximate = approximate * 100.0 / reference
        if abs(approximate - self.threshold_float) > self.margin:
            if not self.compare(approximate, self.threshold_float):
                return False
            if evidence is None:
                return True
        current_d, reference_d = to_decimal(value), to_decimal(reference)
        if self.rise:  # noqa: SIM108
            delta = _DECIMAL.subtract(current_d, reference_d)
        else:
            delta = _DECIMAL.subtract(reference_d, current_d)
        amount = percent_of(delta, reference_d) if self.percent else delta
        if not self.compare(amount, self.threshold):
            return False
        if evidence is not None:
            text = self._text(amount, self._reference_text(reference, taken_at))
            evidence.append(Evidence(self.field, value, text))
        return True

    def _text(self, amount: Decimal, reference_text: str) -> str:
        if self.percent:
            verb = "gained" if self.rise else "lost"
            joiner = "over" if self.rise else "of"
            return f"{verb} {amount} % {joiner} {reference_text} ({self.op_text} {fmt(self.threshold)} %)"
        verb = "rose" if self.rise else "fell"
        joiner = "above" if self.rise else "below"
        return (
            f"{verb} {_with_unit(str(amount), self.unit)} {joiner} {reference_text} "
            f"({self.op_text} {_with_unit(fmt(self.threshold), self.unit)})"
        )

    def describe(self) -> str:
        way = "rise" if self.rise else "fall"
        what = "%" if self.percent else (self.unit or "")
        return (
            f"{self.field} {way} from {self.reference} {self.window_text}".rstrip()
            + f" {self.op_text} {fmt(self.threshold)} {what}".rstrip()
        )


class DaysSince(Node):
    """``{days_since: discharge|surgery, <op>: n}``."""

    __slots__ = ("compare", "operand", "text", "which")

    def __init__(self, which: str, compare: Compare, operand: object, text: str) -> None:
        self.which = which
        self.compare = compare
        self.operand = operand
        self.text = text

    def _value(self, ctx: Context) -> int | None:
        root = ctx.root
        if self.which == "discharge":
            return root.day_since_discharge
        if root.day_since_surgery is None:
            ctx.note_missing("surgery date")
        return root.day_since_surgery

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        value = self._value(ctx)
        if value is None or not self.compare(value, self.operand):
            return False
        if evidence is not None:
            evidence.append(Evidence(f"day_since_{self.which}", value, self.text))
        return True

    def describe(self) -> str:
        return f"day since {self.which} {self.text}"

    def negation_evidence(self, ctx: Context) -> Evidence:
        return Evidence(f"day_since_{self.which}", self._value(ctx), f"not ({self.text})")


# --- history -------------------------------------------------------------------


def _moved(items: list[Evidence], suffix: str) -> list[Evidence]:
    return [Evidence(item.field, item.value, item.condition + suffix) for item in items]


class Consecutive(Node):
    """``{consecutive: n, when: c}``: c holds on n check-ins in a row.

    The current check-in counts; missed check-ins are not in the history, so
    they neither count nor break the run. Each earlier check-in is judged as if
    it were the current one (its own "previous" is the one before it).
    """

    __slots__ = ("child", "count")

    def __init__(self, count: int, child: Node) -> None:
        self.count = count
        self.child = child

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        collected: EvidenceList = [] if evidence is not None else None
        if not self.child.holds(ctx, collected):
            return False
        history, count = ctx.earlier()
        needed = self.count - 1
        if count < needed:
            ctx.note_missing("previous check-in" if needed == 1 else f"{needed} earlier check-ins")
            return False
        for index in range(count - 1, count - 1 - needed, -1):
            earlier: EvidenceList = [] if collected is not None else None
            if not self.child.holds(ctx.shifted(index), earlier):
                return False
            if collected is not None and earlier is not None:
                taken_at = fmt_time(history[index].taken_at)
                collected.extend(_moved(earlier, f", on the check-in of {taken_at}"))
        if evidence is not None and collected is not None:
            evidence.extend(collected)
        return True

    def describe(self) -> str:
        return f"{self.child.describe()} on {self.count} check-ins in a row"


class WithinHours(Node):
    """``{within_hours: h, when: c}``: c held on an earlier check-in taken at most
    h hours before this one (the edge included)."""

    __slots__ = ("child", "hours", "window")

    def __init__(self, hours: int | float, child: Node) -> None:
        self.hours = hours
        self.window = timedelta(hours=hours)
        self.child = child

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        history, count = ctx.earlier()
        if count == 0:
            ctx.note_missing("previous check-in")
            return False
        cutoff = ctx.taken_at - self.window
        for index in range(count - 1, -1, -1):
            taken_at = history[index].taken_at
            if taken_at < cutoff:
                return False
            earlier: EvidenceList = [] if evidence is not None else None
            if self.child.holds(ctx.shifted(index), earlier):
                if evidence is not None and earlier is not None:
                    hours = (ctx.taken_at - taken_at).total_seconds() / 3600
                    suffix = f", on the check-in of {fmt_time(taken_at)} ({hours:.1f} h earlier)"
                    evidence.extend(_moved(earlier, suffix))
                return True
        return False

    def describe(self) -> str:
        return f"{self.child.describe()} on an earlier check-in within {fmt(self.hours)} h"


# --- labs -------------------------------------------------------------------------


class LabLeaf(Node):
    """Common part of the lab leaves: the judged results and their day."""

    __slots__ = ("code", "day_text", "min_day")

    code: str
    min_day: int | None
    day_text: str

    def _latest(self, ctx: Context) -> tuple[Sequence[LabResult], LabResult | None]:
        series = ctx.lab_series(self.code)
        if not series:
            ctx.note_missing(f"a {self.code} result")
            return series, None
        latest = series[-1]
        if self.min_day is not None and not self._day_ok(ctx, latest):
            return series, None
        return series, latest

    def _day_ok(self, ctx: Context, result: LabResult) -> bool:
        assert self.min_day is not None
        day = ctx.surgery_day(result)
        if day is None:
            ctx.note_missing("surgery date")
            return False
        return day >= self.min_day

    def _when(self, ctx: Context, result: LabResult) -> str:
        day = ctx.surgery_day(result)
        stamp = result.observed_at.date().isoformat()
        return f"result of {stamp}" if day is None else f"result of {stamp}, day {day} after surgery"

    def describe_day(self) -> str:
        return f" {self.day_text}" if self.day_text else ""


class LabCompare(LabLeaf):
    """``{lab: code, <op>: x}``: the latest result of code compared with x."""

    __slots__ = ("compare", "operand", "text")

    def __init__(
        self,
        code: str,
        compare: Compare,
        operand: object,
        text: str,
        min_day: int | None,
        day_text: str,
    ) -> None:
        self.code = code
        self.compare = compare
        self.operand = operand
        self.text = text
        self.min_day = min_day
        self.day_text = day_text

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        _, latest = self._latest(ctx)
        if latest is None or not self.compare(latest.value, self.operand):
            return False
        if evidence is not None:
            evidence.append(Evidence(self.code, latest.value, f"{self.text} ({self._when(ctx, latest)})"))
        return True

    def describe(self) -> str:
        return f"latest {self.code} {self.text}{self.describe_day()}"


class LabCompareToLimit(LabLeaf):
    """``{lab: code, <op>: n, times: upper_limit}``: the latest result compared with
    n x the upper limit of normal of that very result: the laboratory's own when it
    reported a reference range with it, the protocol's default otherwise (v2)."""

    __slots__ = ("compare", "default_limit", "multiple", "op_text")

    def __init__(
        self,
        *,
        code: str,
        compare: Compare,
        multiple: Decimal,
        default_limit: float,
        op_text: str,
        min_day: int | None,
        day_text: str,
    ) -> None:
        self.code = code
        self.compare = compare
        self.multiple = multiple
        self.default_limit = default_limit
        self.op_text = op_text
        self.min_day = min_day
        self.day_text = day_text

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        _, latest = self._latest(ctx)
        if latest is None:
            return False
        lab_limit = latest.reference_high
        if lab_limit is not None and lab_limit > 0:
            limit, whose = lab_limit, "the laboratory's"
        else:
            limit, whose = self.default_limit, "the protocol's default"
        threshold = _DECIMAL.multiply(self.multiple, to_decimal(limit))
        if not self.compare(to_decimal(latest.value), threshold):
            return False
        if evidence is not None:
            text = (
                f"{self.op_text} {fmt(self.multiple)} x the upper limit of normal {fmt(limit)} ({whose}) "
                f"= {format(threshold.normalize(), 'f')} ({self._when(ctx, latest)})"
            )
            evidence.append(Evidence(self.code, latest.value, text))
        return True

    def describe(self) -> str:
        limit = f"{fmt(self.multiple)} x its upper limit of normal"
        return f"latest {self.code} {self.op_text} {limit}{self.describe_day()}"


class LabChange(LabLeaf):
    """``{lab: code, rise_from|fall_from|ratio_to: previous|lowest_since_surgery, ...}``.

    The latest result against the previous result or the lowest earlier result
    taken since surgery (pre-operative values, raised by the tumour, are not a
    reference). ``ratio_to`` compares latest / reference.
    """

    __slots__ = ("compare", "mode", "op_text", "percent", "reference", "threshold")

    def __init__(
        self,
        *,
        code: str,
        mode: str,
        reference: str,
        percent: bool,
        compare: Compare,
        threshold: Decimal,
        op_text: str,
        min_day: int | None,
        day_text: str,
    ) -> None:
        self.code = code
        self.mode = mode  # "rise", "fall" or "ratio"
        self.reference = reference
        self.percent = percent
        self.compare = compare
        self.threshold = threshold
        self.op_text = op_text
        self.min_day = min_day
        self.day_text = day_text

    def _reference(self, ctx: Context, series: Sequence[LabResult]) -> tuple[LabResult, str] | None:
        if self.reference == FROM_PREVIOUS:
            if len(series) < 2:
                ctx.note_missing(f"an earlier {self.code} result")
                return None
            previous = series[-2]
            return previous, (f"the previous result {fmt(previous.value)} ({previous.observed_at.date().isoformat()})")
        surgery_date = ctx.root.surgery_date
        if surgery_date is None:
            ctx.note_missing("surgery date")
            return None
        lowest: LabResult | None = None
        for result in series[:-1]:
            if result.observed_at.date() >= surgery_date and (lowest is None or result.value < lowest.value):
                lowest = result
        if lowest is None:
            ctx.note_missing(f"an earlier {self.code} result since surgery")
            return None
        return lowest, (
            f"the lowest result since surgery {fmt(lowest.value)} ({lowest.observed_at.date().isoformat()})"
        )

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        series, latest = self._latest(ctx)
        if latest is None:
            return False
        found = self._reference(ctx, series)
        if found is None:
            return False
        reference, reference_text = found
        current_d, reference_d = to_decimal(latest.value), to_decimal(reference.value)
        if self.mode == "ratio":
            if reference_d <= 0:
                return False
            amount = _DECIMAL.divide(current_d, reference_d)
            shown = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP, context=_DECIMAL)
            text = f"{shown} x {reference_text} ({self.op_text} {fmt(self.threshold)} x)"
        else:
            if self.mode == "rise":
                delta = _DECIMAL.subtract(current_d, reference_d)
            else:
                delta = _DECIMAL.subtract(reference_d, current_d)
            joiner = "above" if self.mode == "rise" else "below"
            if self.percent:
                if reference_d <= 0:
                    return False
                amount = percent_of(delta, reference_d)
                text = f"{amount} % {joiner} {reference_text} ({self.op_text} {fmt(self.threshold)} %)"
            else:
                amount = delta
                text = f"{amount} {joiner} {reference_text} ({self.op_text} {fmt(self.threshold)})"
        if not self.compare(amount, self.threshold):
            return False
        if evidence is not None:
            evidence.append(Evidence(self.code, latest.value, f"{text}; {self._when(ctx, latest)}"))
        return True

    def describe(self) -> str:
        what = {"rise": "rise from", "fall": "fall from", "ratio": "ratio to"}[self.mode]
        unit = " %" if self.percent else ""
        return (
            f"latest {self.code} {what} {self.reference} {self.op_text} "
            f"{fmt(self.threshold)}{unit}{self.describe_day()}"
        )


class LabRisesInARow(LabLeaf):
    """``{lab: code, rises_in_a_row: n}``: each of the last n results is higher
    than the result before it (n + 1 results needed)."""

    __slots__ = ("count",)

    def __init__(self, code: str, count: int, min_day: int | None, day_text: str) -> None:
        self.code = code
        self.count = count
        self.min_day = min_day
        self.day_text = day_text

    def holds(self, ctx: Context, evidence: EvidenceList) -> bool:
        series = ctx.lab_series(self.code)
        if len(series) < self.count + 1:
            ctx.note_missing(f"{self.count + 1} {self.code} results")
            return False
        tail = series[-(self.count + 1) :]
        for before, after in pairwise(tail):
            if not after.value > before.value:
                return False
            if self.min_day is not None and not self._day_ok(ctx, after):
                return False
        if evidence is not None:
            values = " -> ".join(fmt(result.value) for result in tail)
            latest = tail[-1]
            evidence.append(
                Evidence(
                    self.code,
                    latest.value,
                    f"higher than the previous result on {self.count} results in a row: "
                    f"{values} ({self._when(ctx, latest)})",
                )
            )
        return True

    def describe(self) -> str:
        return f"{self.code} higher than the previous result on {self.count} results in a row{self.describe_day()}"


def _json_safe(value: object) -> EvidenceValue:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
