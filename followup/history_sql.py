"""SQL over a check-in's JSON answers, in the dialect of the database in use.

The bounded history read (``followup/history.py``) asks the database for the row a
window condition would pick (the lowest weight of the last 72 h, the latest fever of
the last 24 h). For that answer to be the engine's, an answer counts only when it has
the JSON type of its question, exactly as the engine reads a past check-in: a number
(not a boolean, not a string), ``true``/``false``, a string. Every expression here is
TRUE or FALSE, never NULL, so ``NOT`` means what the engine's ``not`` means.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Expression, FloatField

from followup.rules import Predicate

Params = list[object]

# Answers stored again as generated columns of the check-in, in the index (patient,
# taken_at, id, columns...), so a window over them is an index-only read (issue 17):
# the 72 h lowest weight and the 24 h latest fever no longer decode the JSON of every
# check-in of the window.
STORED_NUMBERS = {"weight_kg": "answer_weight_kg", "temperature_c": "answer_temperature_c"}

_SQL_COMPARES = {">=": ">=", ">": ">", "<=": "<=", "<": "<", "==": "="}


class AnswersSql:
    """Expressions over the ``answers`` column (PostgreSQL jsonb or SQLite JSON text)."""

    def __init__(self, vendor: str, column: str = "answers", stored: dict[str, str] | None = None) -> None:
        """``stored``: questions whose number is a column of the row (``STORED_NUMBERS``),
        read from it instead of the JSON (the column holds the same value)."""
        if vendor not in ("postgresql", "sqlite"):
            raise NotImplementedError(f"the bounded history read has no SQL for {vendor!r}")
        self.postgres = vendor == "postgresql"
        self.column = column
        self.stored = stored or {}

    def only_stored(self, predicate: Predicate) -> bool:
        """Whether ``predicate`` reads nothing but numbers held in stored columns."""
        if predicate.op in ("all", "any", "not"):
            return all(self.only_stored(child) for child in predicate.children)
        return predicate.op == "number" and predicate.question in self.stored

    def _json_type(self, question: str) -> tuple[str, Params]:
        """The JSON type name of the answer (NULL when absent): PostgreSQL says
        number/boolean/string/null, SQLite integer/real/true/false/text/null."""
        if self.postgres:
            return f"jsonb_typeof({self.column} -> %s)", [question]
        return f"json_type({self.column}, %s)", [_path(question)]

    def _text(self, question: str) -> tuple[str, Params]:
        if self.postgres:
            return f"({self.column} ->> %s)", [question]
        return f"json_extract({self.column}, %s)", [_path(question)]

    def number(self, question: str) -> tuple[str, Params]:
        """The answer as a number, NULL unless it is a JSON number."""
        if question in self.stored:
            return self.stored[question], []
        kind, kind_params = self._json_type(question)
        if self.postgres:
            value, value_params = f"({self.column} -> %s)::double precision", [question]
            return f"(CASE WHEN {kind} = 'number' THEN {value} END)", kind_params + value_params
        value, value_params = self._text(question)
        return f"(CASE WHEN {kind} IN ('integer', 'real') THEN {value} END)", kind_params + value_params

    def holds(self, predicate: Predicate) -> tuple[str, Params]:
        """``predicate`` on the row's answers, as a never-NULL boolean expression."""
        op = predicate.op
        if op in ("all", "any"):
            parts = [self.holds(child) for child in predicate.children]
            joiner = " AND " if op == "all" else " OR "
            return "(" + joiner.join(sql for sql, _ in parts) + ")", [p for _, params in parts for p in params]
        if op == "not":
            sql, params = self.holds(predicate.children[0])
            return f"(NOT {sql})", params
        return self._leaf(predicate)

    def _leaf(self, predicate: Predicate) -> tuple[str, Params]:
        question = predicate.question
        kind, params = self._json_type(question)
        if predicate.op == "answered":
            return f"COALESCE({kind} <> 'null', FALSE)", params
        if predicate.op == "is":
            word = "true" if predicate.operand is True else "false"
            if self.postgres:
                return f"COALESCE({kind} = 'boolean' AND ({self.column} ->> %s) = %s, FALSE)", [*params, question, word]
            return f"COALESCE({kind} = %s, FALSE)", [*params, word]
        if predicate.op == "number":
            value, params = self.number(question)
        elif predicate.op == "choice":
            text, text_params = self._text(question)
            value, params = (
                f"(CASE WHEN {kind} = %s THEN {text} END)",
                [
                    *params,
                    "string" if self.postgres else "text",
                    *text_params,
                ],
            )
        else:
            raise ValueError(f"unknown predicate {predicate.op!r}")
        if predicate.compare == "in":
            marks = ", ".join(["%s"] * len(predicate.operand))
            return f"COALESCE({value} IN ({marks}), FALSE)", [*params, *predicate.operand]
        return f"COALESCE({value} {_SQL_COMPARES[predicate.compare]} %s, FALSE)", [*params, predicate.operand]


def _path(question: str) -> str:
    # Question ids are lower_snake_case (the compiler refuses anything else); quoted
    # anyway so a path never reads as more than one key.
    return f'$."{question}"'


class AnswerNumber(Expression):
    """``AnswersSql.number(question)`` as a Django expression, the definition of a stored
    generated column (``CheckIn.answer_weight_kg``): the column holds exactly the value
    the history read would compute from the JSON, in either dialect."""

    output_field = FloatField()

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Params]:
        column = connection.ops.quote_name("answers")
        return AnswersSql(connection.vendor, column=column).number(self.question)
