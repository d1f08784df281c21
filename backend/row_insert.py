"""INSERT of new model instances with SQL built once per process (issue 17).

``Model.objects.create`` and ``bulk_create`` compile an INSERT anew for every call and,
binding on the client, quote every value into new SQL text that PostgreSQL parses and
plans again. A check-in writes three rows this way (the check-in, its audit row, its
dashboard event) and more for a finding; in `bench/` terms the ORM's compiling and
quoting was most of the Python time of those writes.

``rows_insert`` writes what the ORM would write: every concrete field's value as the
ORM prepares it (``pre_save`` with ``add=True``, so ``auto_now_add`` and defaults are
filled, then ``get_db_prep_save``), the database's columns (generated ones) read back
with RETURNING, the primary keys set and the instances marked saved. The statement
for a model and a number of rows is built once and, on PostgreSQL, prepared per
connection (``backend.prepared``). No model signals are sent, as with ``bulk_create``.
A model with a ``db_default`` field (the database fills it when nothing is given)
is left to ``bulk_create``, which knows to send DEFAULT, and so are more than
``MAX_ROWS`` rows (bulk_create splits them into batches the database accepts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from django.db import connection
from django.db.models import Field, Model

from backend.joined_rows import Conversion, conversion_of, convert
from backend.prepared import prepared_cursor

MAX_ROWS = 32


@dataclass(frozen=True)
class _Shape:
    written: tuple[Field[Any, Any], ...]
    returned: tuple[Field[Any, Any], ...]  # the primary key first

    @property
    def conversions(self) -> list[Conversion]:
        return [conversion_of(field, field.get_col(field.model._meta.db_table)) for field in self.returned]


@cache
def _shape(model: type[Model]) -> _Shape | None:
    fields = model._meta.concrete_fields
    if any(field.has_db_default() for field in fields):
        return None
    pk = model._meta.pk
    assert pk is not None
    # A database-assigned key (an auto field) and generated columns come back.
    generated = tuple(field for field in fields if getattr(field, "generated", False))
    written = tuple(field for field in fields if field is not pk and field not in generated)
    if pk.db_returning:
        return _Shape(written=written, returned=(pk, *generated))
    return _Shape(written=(pk, *written), returned=generated)


@lru_cache(maxsize=128)
def _sql(model: type[Model], rows: int) -> str:
    shape = _shape(model)
    assert shape is not None
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(shape.written)) + ")"
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in shape.written)}) "  # noqa: S608
        f"VALUES {', '.join([row] * rows)}"
    )
    if shape.returned:
        sql += f" RETURNING {', '.join(quote(f.column) for f in shape.returned)}"
    return sql


def rows_insert(rows: Sequence[Model]) -> None:
    """INSERT ``rows`` (new instances of one model) in one statement; each gets its
    primary key and generated columns, and is marked saved."""
    if not rows:
        return
    model = type(rows[0])
    shape = _shape(model)
    if shape is None or len(rows) > MAX_ROWS or not connection.features.can_return_rows_from_bulk_insert:
        model._default_manager.bulk_create(rows)
        return
    params: list[Any] = []
    for row in rows:
        row._prepare_related_fields_for_save(operation_name="rows_insert")
        params += [field.get_db_prep_save(field.pre_save(row, True), connection) for field in shape.written]
    with prepared_cursor() as cursor:
        cursor.execute(_sql(model, len(rows)), params)
        returned = cursor.fetchall() if shape.returned else []
    # In the VALUES order, which bulk_create relies on as well.
    conversions = shape.conversions
    for row, values in zip(rows, returned or [()] * len(rows), strict=True):
        for field, value in zip(shape.returned, convert(values, conversions), strict=True):
            setattr(row, field.attname, value)
        row._state.adding = False
        row._state.db = connection.alias
