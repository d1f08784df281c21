"""One row of several joined models, read with SQL built once per process.

The ORM compiles a queryset anew on every call. For the check-in path's enrollment
read (six tables, about sixty columns) compiling the SQL and building the instances
through ``select_related`` cost more than twice what the database spends on the
statement (issue 17: 5.2 ms against 2.0 ms in ``bench/`` terms). Here the select list
is built from the models' own fields once, the caller writes the FROM and WHERE
(joins and conditions only; every value a parameter), and a row becomes model
instances through ``Model.from_db`` with each field's database converters applied, as
the ORM's own iterator does: the instances are the ORM's, deferred nothing, related
objects cached on their foreign keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Field, ForeignKey, Model

Converter = Callable[[Any, Any, Any], Any]
# A column's converters with the expression they are called with.
Conversion = tuple[list[Converter], Any]


@dataclass(frozen=True)
class Joined:
    """A model in the join, by its SQL alias; ``via``: the (alias, foreign key name)
    whose related object it is, so the instance is cached there (None for the root)."""

    model: type[Model]
    alias: str
    via: tuple[str, str] | None = None

    @property
    def fields(self) -> list[Field[Any, Any]]:
        return list(self.model._meta.concrete_fields)


class JoinedRow:
    """The select list of ``tables`` and the instances one row of it holds."""

    def __init__(self, tables: Sequence[Joined]) -> None:
        self.tables = list(tables)
        self._conversions: dict[str, list[Conversion]] = {}

    def select_list(self) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{table.alias}.{quote(field.column)}" for table in self.tables for field in table.fields)

    @property
    def width(self) -> int:
        return sum(len(table.fields) for table in self.tables)

    def _field_conversions(self) -> list[Conversion]:
        vendor = connection.vendor
        if vendor not in self._conversions:
            self._conversions[vendor] = [
                conversion_of(field, field.get_col(table.alias)) for table in self.tables for field in table.fields
            ]
        return self._conversions[vendor]

    def instances(self, row: Sequence[Any]) -> dict[str, Model]:
        """The instances of one row (its first ``width`` values), by alias."""
        values = convert(row[: self.width], self._field_conversions())
        built: dict[str, Model] = {}
        start = 0
        for table in self.tables:
            names = [field.attname for field in table.fields]
            end = start + len(names)
            built[table.alias] = table.model.from_db(connection.alias, names, values[start:end])
            start = end
        for table in self.tables:
            if table.via is not None:
                owner_alias, name = table.via
                key = built[owner_alias]._meta.get_field(name)
                assert isinstance(key, ForeignKey)
                key.set_cached_value(built[owner_alias], built[table.alias])
        return built


def conversion_of(field: Field[Any, Any], expression: Any) -> Conversion:
    """What the ORM applies to a value of ``field`` (read as ``expression``) from the
    database in use."""
    return [*connection.ops.get_db_converters(expression), *field.get_db_converters(connection)], expression


def convert(values: Sequence[Any], conversions: Sequence[Conversion]) -> list[Any]:
    converted = list(values)
    for index, (converters, expression) in enumerate(conversions):
        for converter in converters:
            converted[index] = converter(converted[index], expression, connection)
    return converted
