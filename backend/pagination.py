"""The one paging of every list (API.md, Conventions: ``{"count", "next", "previous",
"results"}``): keyset paging behind opaque ``?cursor=`` links, ``?limit=`` and
``?offset=`` checked like any other input.

Keyset. ``next`` and ``previous`` carry a cursor: the sort key (the list's own
ordering, ended by the primary key so that it is unique) of the last or first row of
the page, signed with the installation's secret and bound to the list's path and
ordering. The next page is "the rows after that key", read with a WHERE on the key and
a LIMIT, so the thousandth page costs what the first does (an OFFSET makes the
database walk and throw away every row before it), and a row inserted or deleted while
a client pages neither repeats nor skips a row on the following pages.

Offset, for the clients written before cursors: a request with ``?offset=`` is served
as before, and its ``next``/``previous`` links stay offset links, so such a client
sees exactly what it saw. Every other request (the first page, a cursor) gets cursor
links. ``cursor`` and ``offset`` together are a 400.

``count`` stays in the envelope and stays exact: one ``COUNT(*)`` of the filtered list
on every page. That is the one part of a page whose cost grows with the list (an index
scan in PostgreSQL); a list is scoped to a clinic or a patient, so it is thousands of
rows, not millions.

DRF's own LimitOffsetPagination ignores what it cannot read (``?limit=false`` gave the
default page, the client none the wiser) and passes any whole number to the database
(``?limit=4023499408650561126400`` overflowed SQLite's integer into a 500); DRF's
CursorPagination has no ``count`` and breaks ties by an offset. Here a bad value is a
400 naming the parameter, every bad one in one reply, and the schema documents the
bounds, so a generated client knows them too.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core import signing
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Q, QuerySet
from rest_framework import pagination, serializers
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

_WHOLE_NUMBER = re.compile(r"\A[0-9]+\Z")

MAX_LIMIT = 200
# What the database can count to (a 64-bit signed integer): past it, SQLite overflows.
MAX_OFFSET = 2**63 - 1
CURSOR_PARAM = "cursor"
CURSOR_SALT = "backend.pagination.cursor"
# A cursor is a few sort values; anything much longer was not made here.
MAX_CURSOR_LENGTH = 1000
BAD_CURSOR = "Not a cursor of this list: follow the next or previous link the list gave."
CURSOR_AND_OFFSET = "Give either cursor or offset, not both."
NO_KEYSET = "This list pages by offset only."


def query_whole_number(request: Request, name: str, *, minimum: int, maximum: int) -> tuple[int | None, list[str]]:
    """A whole-number query parameter given once, within its bounds: the value (None when
    absent or empty) and the messages naming what is wrong with it."""
    raw, errors = _query_once(request, name)
    if errors or raw is None:
        return None, errors
    if not _WHOLE_NUMBER.match(raw):
        return None, ["A valid integer is required."]
    value = int(raw)
    if value < minimum:
        return None, [f"Ensure this value is greater than or equal to {minimum}."]
    if value > maximum:
        return None, [f"Ensure this value is less than or equal to {maximum}."]
    return value, []


def _query_once(request: Request, name: str) -> tuple[str | None, list[str]]:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        return None, ["Give this parameter once."]
    raw = values[0] if values else ""
    # Given empty is left out, as for every query parameter (backend.openapi).
    return (raw or None), []


# --- the sort key ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """A list's ordering as (field path, descending) pairs, the primary key last."""

    terms: tuple[tuple[str, bool], ...]

    @property
    def names(self) -> list[str]:
        return [("-" if descending else "") + name for name, descending in self.terms]

    def value_of(self, row: Model) -> list[Any]:
        values = []
        for name, _descending in self.terms:
            value: Any = row
            for part in name.split("__"):
                value = getattr(value, part)
            values.append(value)
        return values

    def beyond(self, values: list[Any], *, backwards: bool) -> Q:
        """The rows after ``values`` in this order (before them when ``backwards``):
        (a > x) or (a = x and b > y) or ..., each comparison turned for a descending
        term. The key ends with the primary key, so no row equals it but its own."""
        condition = Q()
        equal: dict[str, Any] = {}
        for (name, descending), value in zip(self.terms, values, strict=True):
            later = "lt" if descending != backwards else "gt"
            condition |= Q(**equal, **{f"{name}__{later}": value})
            equal[name] = value
        return condition

    def reversed_names(self) -> list[str]:
        return [("" if descending else "-") + name for name, descending in self.terms]


def sort_key_of(queryset: QuerySet) -> SortKey | None:
    """The queryset's ordering made unique by the primary key, or None when it cannot be
    a keyset: an expression, a random order, or a field that may be NULL (NULLs sort
    first in SQLite and last in PostgreSQL, so "after NULL" has no one meaning)."""
    model = queryset.model
    names = list(queryset.query.order_by) or list(model._meta.ordering)
    terms: list[tuple[str, bool]] = []
    for term in names:
        if not isinstance(term, str) or term.lstrip("-") in ("", "?"):
            return None
        name = term.lstrip("-")
        if name not in queryset.query.annotations and _nullable(model, name):
            return None
        terms.append((name, term.startswith("-")))
    primary = {"pk", model._meta.pk.name}
    if not terms or terms[-1][0] not in primary:
        terms.append(("pk", terms[-1][1] if terms else False))
    return SortKey(tuple(terms))


def _nullable(model: type[Model], path: str) -> bool:
    parts = path.split("__")
    try:
        for part in parts[:-1]:
            field = model._meta.get_field(part)
            if field.null or field.related_model is None:
                return True
            model = field.related_model
        last = parts[-1]
        if last == "pk":
            return False
        field = model._meta.get_field(last)
    except FieldDoesNotExist:
        return True
    # A relation is ordered by its target's ordering, which is not one value.
    return bool(field.null or field.is_relation)


# --- the cursor -----------------------------------------------------------------------------------------

# Each value with its type, so a time comes back a time and a whole number a whole number.
_ENCODERS: tuple[tuple[type, str, Any], ...] = (
    (bool, "b", lambda value: value),
    (datetime, "t", lambda value: value.isoformat()),
    (date, "d", lambda value: value.isoformat()),
    (int, "i", lambda value: value),
    (float, "f", lambda value: value),
    (Decimal, "m", str),
    (uuid.UUID, "u", str),
    (str, "s", lambda value: value),
)
_DECODERS = {
    "b": lambda raw: raw if isinstance(raw, bool) else _bad(),
    "t": datetime.fromisoformat,
    "d": date.fromisoformat,
    "i": lambda raw: raw if isinstance(raw, int) and not isinstance(raw, bool) else _bad(),
    "f": float,
    "m": Decimal,
    "u": uuid.UUID,
    "s": lambda raw: raw if isinstance(raw, str) else _bad(),
}


def _bad() -> Any:
    raise ValueError("not a cursor value")


def _encode(value: Any) -> list[Any] | None:
    for kind, tag, encode in _ENCODERS:
        if isinstance(value, kind):
            return [tag, encode(value)]
    return None


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (or, ``backwards``, before) the row with these sort
    values."""

    values: list[Any]
    backwards: bool

    def dumps(self, *, path: str, key: SortKey) -> str | None:
        encoded = [_encode(value) for value in self.values]
        if any(item is None for item in encoded):
            return None
        payload = {"p": path, "o": key.names, "v": encoded, "b": self.backwards}
        return signing.dumps(payload, salt=CURSOR_SALT, compress=True)

    @classmethod
    def loads(cls, token: str, *, path: str, key: SortKey) -> Cursor:
        """The cursor this list gave, or ValueError: a forged, truncated or foreign one
        (another list's, or this list's before its order changed)."""
        if len(token) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        try:
            payload = signing.loads(token, salt=CURSOR_SALT)
        except signing.BadSignature as error:
            raise ValueError("bad signature") from error
        if not isinstance(payload, dict) or payload.get("p") != path or payload.get("o") != key.names:
            raise ValueError("another list's cursor")
        encoded = payload.get("v")
        if not isinstance(encoded, list) or len(encoded) != len(key.terms):
            raise ValueError("wrong length")
        values = []
        for item in encoded:
            if not (isinstance(item, list) and len(item) == 2 and item[0] in _DECODERS):
                raise ValueError("not a typed value")
            values.append(_DECODERS[item[0]](item[1]))
        return cls(values=values, backwards=bool(payload.get("b")))


# --- the paginator --------------------------------------------------------------------------------------


class StrictLimitOffsetPagination(pagination.LimitOffsetPagination):
    """``?cursor=`` from a ``next``/``previous`` link, ``?limit=`` 1 to ``max_limit``
    (default ``PAGE_SIZE``), ``?offset=`` 0 or more for older clients; anything else is
    a 400 naming the parameter. (The name is the setting's; it pages by keyset.)"""

    max_limit = MAX_LIMIT
    max_offset = MAX_OFFSET
    cursor_query_param = CURSOR_PARAM

    def paginate_queryset(self, queryset: QuerySet | list, request: Request, view: Any = None) -> list | None:  # type: ignore[override]
        self.request = request
        limit, limit_errors = query_whole_number(request, self.limit_query_param, minimum=1, maximum=self.max_limit)
        offset, offset_errors = query_whole_number(request, self.offset_query_param, minimum=0, maximum=self.max_offset)
        token, cursor_errors = _query_once(request, self.cursor_query_param)
        self.key = sort_key_of(queryset) if isinstance(queryset, QuerySet) else None
        cursor = None
        if token is not None and not cursor_errors:
            cursor, cursor_errors = self._cursor(token, offset_given=offset is not None or bool(offset_errors))
        errors = {
            name: messages
            for name, messages in (
                (self.limit_query_param, limit_errors),
                (self.offset_query_param, offset_errors),
                (self.cursor_query_param, cursor_errors),
            )
            if messages
        }
        if errors:
            raise serializers.ValidationError(errors)
        self.limit = limit if limit is not None else self.default_limit
        self.by_offset = offset is not None or self.key is None
        self.offset = offset or 0
        self.cursor = cursor
        self.count = self.get_count(queryset)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        if cursor is not None:
            return self._keyset_page(queryset, cursor)
        self.more_after = self.offset + self.limit < self.count
        self.more_before = False
        if self.count == 0 or self.offset > self.count:
            self.page: list = []
        else:
            self.page = list(queryset[self.offset : self.offset + self.limit])
        return self.page

    def _cursor(self, token: str, *, offset_given: bool) -> tuple[Cursor | None, list[str]]:
        if self.key is None:
            return None, [NO_KEYSET]
        if offset_given:
            return None, [CURSOR_AND_OFFSET]
        try:
            return Cursor.loads(token, path=self.request.path, key=self.key), []
        except (ValueError, TypeError, ArithmeticError):
            return None, [BAD_CURSOR]

    def _keyset_page(self, queryset: QuerySet, cursor: Cursor) -> list:
        """One page after (before) the cursor's row: a WHERE on the sort key and a LIMIT
        of one more row than the page, which tells whether there is a page beyond."""
        assert self.key is not None
        rows = queryset.filter(self.key.beyond(cursor.values, backwards=cursor.backwards))
        if cursor.backwards:
            rows = rows.order_by(*self.key.reversed_names())
        read = list(rows[: self.limit + 1])
        beyond = len(read) > self.limit
        read = read[: self.limit]
        if cursor.backwards:
            read.reverse()
            self.more_before, self.more_after = beyond, True
        else:
            self.more_before, self.more_after = True, beyond
        self.page = read
        return read

    # --- links -----------------------------------------------------------------------------------------

    def get_next_link(self) -> str | None:
        if self.by_offset:
            return super().get_next_link()
        if not self.more_after or not self.page:
            return None
        return self._cursor_link(Cursor(self.key.value_of(self.page[-1]), backwards=False))  # type: ignore[union-attr]

    def get_previous_link(self) -> str | None:
        if self.by_offset:
            return super().get_previous_link()
        if not self.more_before:
            return None
        if not self.page:
            # Past the end (the rows after the cursor were deleted): the rows before it.
            assert self.cursor is not None
            return self._cursor_link(Cursor(self.cursor.values, backwards=True))
        return self._cursor_link(Cursor(self.key.value_of(self.page[0]), backwards=True))  # type: ignore[union-attr]

    def _cursor_link(self, cursor: Cursor) -> str | None:
        assert self.key is not None
        token = cursor.dumps(path=self.request.path, key=self.key)
        if token is None:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), self.offset_query_param)
        return replace_query_param(url, self.cursor_query_param, token)

    # --- schema ----------------------------------------------------------------------------------------

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit, "default": self.default_limit},
            self.offset_query_param: {"minimum": 0, "maximum": self.max_offset, "default": 0},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
            if parameter["name"] == self.offset_query_param:
                parameter["description"] = (
                    "The number of rows to skip, for clients that page by offset; its next and previous "
                    "links stay offset links. Not with cursor."
                )
        parameters.append(
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": (
                    "Where the page starts: the opaque cursor in the next or previous link of this list "
                    "(keyset paging: every row once, however deep, even while rows are added). A cursor "
                    "that this list did not give, or one with offset, is a 400 naming cursor."
                ),
                "schema": {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
            }
        )
        return parameters
