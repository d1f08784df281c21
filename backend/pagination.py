"""The one paging of every list (API.md, Conventions: ``{"count", "next", "previous",
"results"}``), with ``?limit=`` and ``?offset=`` checked like any other input.

DRF's own LimitOffsetPagination ignores what it cannot read (``?limit=false`` gave the
default page, the client none the wiser) and passes any whole number to the database
(``?limit=4023499408650561126400`` overflowed SQLite's integer into a 500). Here a bad
value is a 400 naming the parameter, every bad one in one reply, and the schema
documents the bounds, so a generated client knows them too.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from rest_framework import pagination, serializers
from rest_framework.request import Request

_WHOLE_NUMBER = re.compile(r"\A[0-9]+\Z")

MAX_LIMIT = 200
# What the database can count to (a 64-bit signed integer): past it, SQLite overflows.
MAX_OFFSET = 2**63 - 1


def query_whole_number(request: Request, name: str, *, minimum: int, maximum: int) -> tuple[int | None, list[str]]:
    """A whole-number query parameter given once, within its bounds: the value (None when
    absent or empty) and the messages naming what is wrong with it."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        return None, ["Give this parameter once."]
    raw = values[0] if values else ""
    if raw == "":
        # Given empty is left out, as for every query parameter (backend.openapi).
        return None, []
    if not _WHOLE_NUMBER.match(raw):
        return None, ["A valid integer is required."]
    value = int(raw)
    if value < minimum:
        return None, [f"Ensure this value is greater than or equal to {minimum}."]
    if value > maximum:
        return None, [f"Ensure this value is less than or equal to {maximum}."]
    return value, []


class StrictLimitOffsetPagination(pagination.LimitOffsetPagination):
    """``?limit=`` 1 to ``max_limit`` (default ``PAGE_SIZE``), ``?offset=`` 0 or more;
    anything else is a 400 naming the parameter."""

    max_limit = MAX_LIMIT
    max_offset = MAX_OFFSET

    def paginate_queryset(self, queryset: QuerySet | list, request: Request, view: Any = None) -> list | None:  # type: ignore[override]
        self.request = request
        limit, limit_errors = query_whole_number(request, self.limit_query_param, minimum=1, maximum=self.max_limit)
        offset, offset_errors = query_whole_number(request, self.offset_query_param, minimum=0, maximum=self.max_offset)
        errors = {
            name: messages
            for name, messages in ((self.limit_query_param, limit_errors), (self.offset_query_param, offset_errors))
            if messages
        }
        if errors:
            raise serializers.ValidationError(errors)
        self.limit = limit if limit is not None else self.default_limit
        self.offset = offset if offset is not None else 0
        self.count = self.get_count(queryset)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        if self.count == 0 or self.offset > self.count:
            return []
        return list(queryset[self.offset : self.offset + self.limit])

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit, "default": self.default_limit},
            self.offset_query_param: {"minimum": 0, "maximum": self.max_offset, "default": 0},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
