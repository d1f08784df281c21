"""How much of a patient's history a compiled rule set can look at (issue 17).

Computed once per (rule set, phase) from the compiled conditions, so the Django side
reads a bounded history whatever its length: the latest ``check_ins`` earlier
check-ins, plus one *targeted row* per window reference (the row a window condition
would pick out of the whole window), plus per lab code the latest results and, for
``lowest_since_surgery``, the two lowest results since surgery.

Why the targeted rows give the same evaluation as the whole history (the property
test in ``tests/followup/services/test_checkins_history_bound.py`` checks it over
random histories): the engine only ever reads

* ``previous`` / ``consecutive``: the latest rows by index. The read holds the latest
  ``check_ins`` of them (all of them when there are fewer), so every index these
  nodes touch is the same row;
* ``lowest_within_hours``: the minimum over the rows of the window. Any subset of the
  window that holds the row with the minimum has the same minimum;
* ``within_hours`` with a condition on the earlier check-in's own answers: the most
  recent row of the window where it holds. Rows left out are rows where it does not
  hold (they are newer or older than that row), and the read holds that row;
* ``earliest_within_days``: the earliest row of the window with a number for the
  question. Rows of the window left out before it have no number either way.

A condition these shapes do not cover (a window inside ``consecutive``, a history
condition inside ``within_hours``) makes the horizon ``unbounded``: the whole history
is read, correct but not flat. The protocols we ship have none (a test pins it).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from . import conditions as c


@dataclass(frozen=True, slots=True)
class Predicate:
    """A condition on one check-in's own answers, as data the database can be asked.

    ``op`` is ``all``/``any``/``not`` (over ``children``), ``answered`` (the question
    has a non-null answer), ``is`` (a boolean answer is ``operand``), ``number`` or
    ``choice`` (an answer of that JSON type compared by ``compare``: ``>=``, ``>``,
    ``<=``, ``<``, ``==`` or ``in``, with ``operand`` a tuple for ``in``). An answer of
    another JSON type never matches, as on a past check-in in the engine.
    """

    op: str
    question: str = ""
    compare: str = ""
    operand: Any = None
    children: tuple[Predicate, ...] = ()


@dataclass(frozen=True, slots=True)
class Window:
    """A targeted row: within ``span`` before the judged check-in, the row a window
    reference picks. ``kind`` is ``lowest`` (lowest number for ``question``),
    ``earliest`` (earliest row with a number for ``question``) or ``latest_where``
    (latest row where ``predicate`` holds on its own answers)."""

    kind: str
    span: timedelta
    question: str = ""
    predicate: Predicate | None = None
    key: str = ""  # identity for de-duplication


@dataclass(frozen=True, slots=True)
class HistoryHorizon:
    """What one evaluation may read; see the module docstring."""

    check_ins: int = 0
    windows: tuple[Window, ...] = ()
    unbounded: bool = False
    lab_latest: tuple[tuple[str, int], ...] = ()  # (code, how many latest results)
    lab_lowest_since_surgery: tuple[str, ...] = ()

    @property
    def reads_labs(self) -> bool:
        return bool(self.lab_latest or self.lab_lowest_since_surgery)


@dataclass(slots=True)
class _Need:
    check_ins: int = 0
    windows: dict[str, Window] = field(default_factory=dict)
    unbounded: bool = False
    lab_latest: dict[str, int] = field(default_factory=dict)
    lab_lowest: set[str] = field(default_factory=set)

    def merge(self, other: _Need) -> None:
        self.check_ins = max(self.check_ins, other.check_ins)
        self.windows.update(other.windows)
        self.unbounded = self.unbounded or other.unbounded
        for code, count in other.lab_latest.items():
            self.lab_latest[code] = max(self.lab_latest.get(code, 0), count)
        self.lab_lowest |= other.lab_lowest

    @property
    def history_free(self) -> bool:
        return not self.check_ins and not self.windows and not self.unbounded


def horizon_of(nodes: list[c.Node]) -> HistoryHorizon:
    """The horizon serving every one of ``nodes`` (the conditions of one plan)."""
    need = _Need()
    for node in nodes:
        need.merge(_need(node))
    return HistoryHorizon(
        check_ins=need.check_ins,
        windows=tuple(need.windows[key] for key in sorted(need.windows)),
        unbounded=need.unbounded,
        lab_latest=tuple(sorted(need.lab_latest.items())),
        lab_lowest_since_surgery=tuple(sorted(need.lab_lowest)),
    )


def _need(node: c.Node) -> _Need:
    if isinstance(node, (c.All, c.Any_)):
        need = _Need()
        for child in node.children:
            need.merge(_need(child))
        return need
    if isinstance(node, c.Not):
        return _need(node.child)
    if isinstance(node, c.PreviousCompare):
        return _Need(check_ins=1)
    if isinstance(node, c.AnswerChange):
        return _answer_change(node)
    if isinstance(node, c.Consecutive):
        return _consecutive(node)
    if isinstance(node, c.WithinHours):
        return _within_hours(node)
    if isinstance(node, c.LabLeaf):
        return _lab(node)
    # Answers of the judged check-in, answered, days since: no history.
    return _Need()


def _answer_change(node: c.AnswerChange) -> _Need:
    if node.reference == c.FROM_PREVIOUS:
        return _Need(check_ins=1)
    if node.reference == c.FROM_BASELINE:
        return _Need()  # the episode's discharge weight, a field of the episode
    assert node.window is not None
    kind = "lowest" if node.reference == c.FROM_LOWEST_WITHIN_HOURS else "earliest"
    key = f"{kind}:{node.field}:{node.window.total_seconds():g}"
    return _Need(windows={key: Window(kind=kind, span=node.window, question=node.field, key=key)})


def _consecutive(node: c.Consecutive) -> _Need:
    child = _need(node.child)
    if child.windows or child.unbounded:
        # A window judged from each of n earlier check-ins is not a fixed set of rows.
        return _Need(unbounded=True)
    # The judged check-in and the n - 1 before it, each with the rows its condition
    # reads before it: (n - 1) + the child's count.
    return _Need(check_ins=node.count - 1 + child.check_ins)


def _within_hours(node: c.WithinHours) -> _Need:
    child = _need(node.child)
    predicate = predicate_of(node.child) if child.history_free else None
    if predicate is None:
        return _Need(unbounded=True)
    key = f"latest_where:{node.window.total_seconds():g}:{node.child.describe()}"
    window = Window(kind="latest_where", span=node.window, predicate=predicate, key=key)
    # check_ins=1: with no row in the window the engine still looks at the latest
    # earlier check-in (to tell "no history" from "none in the window").
    return _Need(check_ins=1, windows={key: window})


def _lab(node: c.LabLeaf) -> _Need:
    if isinstance(node, c.LabRisesInARow):
        return _Need(lab_latest={node.code: node.count + 1})
    if isinstance(node, c.LabChange):
        if node.reference == c.FROM_PREVIOUS:
            return _Need(lab_latest={node.code: 2})
        return _Need(lab_latest={node.code: 1}, lab_lowest={node.code})
    return _Need(lab_latest={node.code: 1})


_COMPARES: dict[Callable[[Any, Any], Any], str] = {
    operator.ge: ">=",
    operator.gt: ">",
    operator.le: "<=",
    operator.lt: "<",
    operator.eq: "==",
}


def predicate_of(node: c.Node) -> Predicate | None:
    """The condition as a :class:`Predicate`, or None when it reads more than the
    check-in's own answers (or has a shape the database is not asked)."""
    if isinstance(node, (c.All, c.Any_)):
        children = [predicate_of(child) for child in node.children]
        if any(child is None for child in children):
            return None
        op = "all" if isinstance(node, c.All) else "any"
        return Predicate(op, children=tuple(child for child in children if child is not None))
    if isinstance(node, c.Not):
        child = predicate_of(node.child)
        return None if child is None else Predicate("not", children=(child,))
    if isinstance(node, c.Answered):
        return Predicate("answered", node.field)
    if isinstance(node, c.AnswerIs):
        return Predicate("is", node.field, operand=node.operand)
    if isinstance(node, c.AnswerCompare):
        kind = {c.NUMERIC: "number", c.CHOICE: "choice"}.get(node.kind)
        if kind is None:
            return None
        if isinstance(node.operand, frozenset):
            return Predicate(kind, node.field, "in", tuple(sorted(node.operand)))
        compare = _COMPARES.get(node.compare)
        return None if compare is None else Predicate(kind, node.field, compare, node.operand)
    return None
