"""Filters by id on lists: the one way every list reads ``?patient=``, ``?episode=``,
``?care_team=`` and any other id (API.md: every filter by id answers the same for an
id of another clinic, or another patient, as for an id that does not exist; H12).

An id filter never looks its id up. It only narrows a list that is already scoped to
what the caller may see (``backend.scoping`` and the selectors), so an id the caller
may not see and an id that does not exist both match no rows: 200 with an empty page,
the same answer, in the same time. The value's form is checked (a whole number that a
database id can be), with a 400 naming the parameter; that check reads no row, so it
too answers the same whoever owns the id.

A ``ModelChoiceFilter`` would do the opposite: it validates the id against every row
of the table before the list is scoped, answering 400 for an id that does not exist
and 200 for another clinic's (the existence oracle of issue 16). So:

- FilterSets declare id filters as ``IdFilter``;
- ``filterset_fields`` naming a relation get an ``IdFilter`` too, when the view uses
  ``FilterBackend`` (``backend.api.AuditedModelViewSet`` does);
- views that read their query by hand use ``id_query_param``.
"""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django import forms
from django.db import models
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.rest_framework import FilterSet as RestFilterSet
from django_filters.rest_framework.filterset import FILTER_FOR_DBFIELD_DEFAULTS
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

ID_MAX = 2**63 - 1  # the largest id a database column holds (a larger one was a 500 on SQLite)
ID_MESSAGE = f"An id is a whole number from 1 to {ID_MAX}."
ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class IdField(forms.Field):
    """A row id in a query string: ASCII digits only ("5.0", "+5", " 5" and other
    scripts' digits are refused, as everywhere in the API), 1 to ``ID_MAX``."""

    default_error_messages = {"invalid": ID_MESSAGE}

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        if not isinstance(value, str) or not _DIGITS.fullmatch(value):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        number = int(value)
        if not 1 <= number <= ID_MAX:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return number


@extend_schema_field(ID_SCHEMA)
class IdFilter(django_filters.Filter):
    """``?<name>=<id>``: the rows of the (already scoped) list whose ``field_name``
    is that id; no row when the caller may not see it or it does not exist."""

    field_class = IdField


def id_query_param(request: Request, name: str) -> int | None:
    """``IdFilter`` for a view without a FilterSet: the id, None when absent, or a 400
    naming the parameter. The caller filters a scoped list with it, never looks it up."""
    try:
        return IdField(required=False).clean(request.query_params.get(name))
    except forms.ValidationError as error:
        raise serializers.ValidationError({name: list(error.messages)}) from error


def id_parameter(name: str, description: str = "") -> OpenApiParameter:
    """The schema of an ``id_query_param``: the same as an ``IdFilter``'s."""
    return OpenApiParameter(name, ID_SCHEMA, OpenApiParameter.QUERY, description=description)


class FilterSet(RestFilterSet):
    """A FilterSet whose filters on a relation are ``IdFilter``s, not choices checked
    against the whole table."""

    FILTER_DEFAULTS = {
        **FILTER_FOR_DBFIELD_DEFAULTS,
        models.ForeignKey: {"filter_class": IdFilter},
        models.OneToOneField: {"filter_class": IdFilter},
        models.OneToOneRel: {"filter_class": IdFilter},
        models.ManyToManyField: {"filter_class": IdFilter},
        models.ManyToOneRel: {"filter_class": IdFilter},
        models.ManyToManyRel: {"filter_class": IdFilter},
    }


class FilterBackend(DjangoFilterBackend):
    """``filterset_fields`` of a view become a ``FilterSet`` above."""

    filterset_base = FilterSet
