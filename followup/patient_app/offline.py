"""The protocol's red rules as plain answer conditions, held in the check-in page so
that a red answer saved offline shows the call button at once (H2), before the
server has judged it.

Only what the answers alone decide is kept: ``all``/``any``/``not`` of
``{answer: q, <op>: x}``. A part needing history, labs or days (``within_hours``,
``previous``, ``rise_from``...) is unknown here: an ``any`` drops it, an ``all`` or a
``not`` holding it is dropped whole. So the page shows red only when the answers
surely make it red; the server's judgement, sent when online, is the one that counts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from followup.protocols import ProtocolDefinition

OPERATORS = (">=", ">", "<=", "<", "==", "!=", "is", "in")
Condition = dict[str, Any]


def _simple(node: Mapping[str, Any]) -> Condition | None:
    if "any" in node:
        children = [child for child in (_simple(one) for one in node["any"]) if child is not None]
        return {"any": children} if children else None
    if "all" in node:
        children = [_simple(one) for one in node["all"]]
        return None if any(child is None for child in children) else {"all": children}
    if "not" in node:
        child = _simple(node["not"])
        return None if child is None else {"not": child}
    if set(node) - {"answer", *OPERATORS} or "answer" not in node:
        return None
    [op] = [key for key in node if key != "answer"] or [None]
    if op is None:
        return None
    return {"answer": node["answer"], "op": op, "value": node[op]}


def red_answer_conditions(*, definition: ProtocolDefinition, phase: str) -> list[Condition]:
    """One condition per red check-in rule of ``phase`` that the answers alone decide."""
    conditions = []
    for rule in definition.raw_rules:
        if rule.get("severity") != "red" or rule.get("trigger", "check_in") != "check_in":
            continue
        if phase not in rule.get("phases", ()):
            continue
        when = (rule.get("in_phase") or {}).get(phase, {}).get("when", rule["when"])
        condition = _simple(when)
        if condition is not None:
            conditions.append(condition)
    return conditions
