"""Errors raised by the rules engine."""

from __future__ import annotations


class RuleLoadError(ValueError):
    """A protocol's rules cannot be compiled.

    The message names the source file, the rule id and the reason, e.g.
    ``rules.yaml: rule 'fever_high': when.any[0]: unknown question 'temprature_c'``,
    so a clinician editing the file can find the entry (H3: rules are reviewed
    data; a broken rule must never load silently).
    """

    def __init__(self, source: str, rule_id: str | None, reason: str) -> None:
        self.source = source
        self.rule_id = rule_id
        self.reason = reason
        where = f"rule '{rule_id}'" if rule_id is not None else "rules"
        super().__init__(f"{source}: {where}: {reason}")


class AnswerTypeError(ValueError):
    """An answer of the current check-in has the wrong JSON type for its question.

    Answers are validated before evaluation (H4), so this is a programming error
    upstream; it is raised rather than treated as "no answer", which could hide a
    warning sign. Answers of *past* check-ins with a wrong type (for example from
    an older protocol version) are read as absent instead.
    """

    def __init__(self, question: str, value: object, expected: str) -> None:
        self.question = question
        self.value = value
        super().__init__(f"answer to {question!r} must be {expected}, got {value!r}")
