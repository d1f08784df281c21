"""The evaluation context: one check-in's answers and the history as it stood.

Times are judged in UTC: two datetimes sharing a zone (say Europe/Berlin) are
subtracted and compared on the wall clock by Python, which would make "24 h
before" 23 or 25 real hours across a DST change (H14). The judging time is
converted to UTC, so every window and comparison is in elapsed time.

A root context is made per evaluation. History (sorted, cut at ``taken_at``) and
lab series (grouped by code, sorted, cut at the judging time) are prepared lazily
on first use, once per evaluation, and shared with the shifted contexts that
``consecutive`` and ``within_hours`` use to judge an earlier check-in as if it
were the current one.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from operator import attrgetter

from .data import EvaluationInput, LabResult, PastCheckIn

_TAKEN_AT = attrgetter("taken_at")
_OBSERVED_AT = attrgetter("observed_at")
_EMPTY_ANSWERS: Mapping[str, object] = {}


class Context:
    """What a condition reads. ``strict`` is true only for the current check-in."""

    __slots__ = (
        "_earlier_count",
        "_history",
        "_labs",
        "_raw_history",
        "_raw_labs",
        "answers",
        "baseline_weight_kg",
        "day_since_discharge",
        "day_since_surgery",
        "missing",
        "root",
        "strict",
        "surgery_date",
        "taken_at",
    )

    answers: Mapping[str, object]
    taken_at: datetime
    strict: bool
    root: Context
    missing: str | None
    baseline_weight_kg: float | None
    day_since_discharge: int | None
    day_since_surgery: int | None
    surgery_date: date | None
    _raw_history: Sequence[PastCheckIn]
    _history: Sequence[PastCheckIn] | None
    _earlier_count: int
    _raw_labs: Sequence[LabResult]
    _labs: dict[str, list[LabResult]] | None

    @classmethod
    def for_check_in(cls, data: EvaluationInput) -> Context:
        ctx = cls()
        ctx.answers = data.answers
        ctx.taken_at = data.taken_at.astimezone(UTC)
        ctx.strict = True
        ctx.root = ctx
        ctx.missing = None
        baseline = data.baseline_weight_kg
        # A Decimal from a model field is read as the float it prints as.
        ctx.baseline_weight_kg = None if baseline is None else float(baseline)
        ctx.day_since_discharge = data.day_since_discharge
        ctx.day_since_surgery = data.day_since_surgery
        ctx.surgery_date = data.surgery_date
        ctx._raw_history = data.history
        ctx._history = None
        ctx._earlier_count = 0
        ctx._raw_labs = data.labs
        ctx._labs = None
        return ctx

    @classmethod
    def for_labs(cls, *, labs: Sequence[LabResult], at: datetime, surgery_date: date | None) -> Context:
        ctx = cls()
        ctx.answers = _EMPTY_ANSWERS
        ctx.taken_at = at.astimezone(UTC)
        ctx.strict = True
        ctx.root = ctx
        ctx.missing = None
        ctx.baseline_weight_kg = None
        ctx.day_since_discharge = None
        ctx.day_since_surgery = None
        ctx.surgery_date = surgery_date
        ctx._raw_history = ()
        ctx._history = ()
        ctx._earlier_count = 0
        ctx._raw_labs = labs
        ctx._labs = None
        return ctx

    def note_missing(self, what: str) -> None:
        """Record, for the trace, history a rule needed and the patient lacks."""
        root = self.root
        if root.missing is None:
            root.missing = what

    def earlier(self) -> tuple[Sequence[PastCheckIn], int]:
        """The sorted history and how many of its check-ins precede this one.

        ``history[:count]`` are the check-ins taken strictly before ``taken_at``;
        the latest earlier check-in ("previous") is ``history[count - 1]``.
        """
        history = self._history
        if history is None:
            history = self._raw_history
            if not isinstance(history, (list, tuple)):
                history = list(history)  # indexable once, whatever sequence was given
            last: datetime | None = None
            for check_in in history:
                taken_at = check_in.taken_at
                if last is not None and taken_at < last:
                    history = sorted(history, key=_TAKEN_AT)
                    break
                last = taken_at
            self._history = history
            self._earlier_count = bisect_left(history, self.taken_at, key=_TAKEN_AT)
        return history, self._earlier_count

    def shifted(self, index: int) -> Context:
        """A context judging ``history[index]`` as if it were the current check-in."""
        history, _ = self.earlier()
        past = history[index]
        root = self.root
        ctx = Context()
        ctx.answers = past.answers
        ctx.taken_at = past.taken_at.astimezone(UTC)
        ctx.strict = False
        ctx.root = root
        ctx.missing = None
        ctx.baseline_weight_kg = root.baseline_weight_kg
        ctx.day_since_discharge = None
        ctx.day_since_surgery = None
        ctx.surgery_date = root.surgery_date
        ctx._raw_history = history
        ctx._history = history
        ctx._earlier_count = index
        ctx._raw_labs = ()
        ctx._labs = {}
        return ctx

    def lab_series(self, code: str) -> Sequence[LabResult]:
        """Observations of ``code`` up to the judging time, oldest first."""
        labs = self._labs
        if labs is None:
            labs = {}
            at = self.taken_at
            for result in self._raw_labs:
                if result.observed_at <= at:
                    series = labs.get(result.code)
                    if series is None:
                        labs[result.code] = [result]
                    else:
                        series.append(result)
            for series in labs.values():
                series.sort(key=_OBSERVED_AT)
            self._labs = labs
        return labs.get(code, ())

    def surgery_day(self, result: LabResult) -> int | None:
        """Days after surgery of an observation (day 0 = day of surgery)."""
        surgery_date = self.root.surgery_date
        if surgery_date is None:
            return None
        return (result.observed_at.date() - surgery_date).days
