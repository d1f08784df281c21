"""backend.prepared: the check-in path's hot reads prepared once per connection, counted
and logged as any other statement, with the same rows as Django's own cursor."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.models import Clinic
from backend.prepared import prepared_cursor

pytestmark = pytest.mark.django_db

SQL = "SELECT id, name FROM backend_clinic WHERE id = %s AND name <> %s"


def _clinic() -> Clinic:
    return Clinic.objects.create(name="Prepared clinic", phone="+442079460001", timezone="Europe/Istanbul")


def _prepared_texts() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_the_rows_are_those_of_djangos_cursor():
    clinic = _clinic()
    with connection.cursor() as cursor:
        cursor.execute(SQL, [clinic.pk, "nobody"])
        expected = cursor.fetchall()
    for _ in range(3):  # first run (prepared now) and later runs (prepared before)
        with prepared_cursor() as cursor:
            cursor.execute(SQL, [clinic.pk, "nobody"])
            assert cursor.fetchall() == expected == [(clinic.pk, "Prepared clinic")]


def test_the_statement_is_prepared_on_its_first_run_on_postgresql_only():
    clinic = _clinic()
    with prepared_cursor() as cursor:
        cursor.execute(SQL, [clinic.pk, "nobody"])
    if connection.vendor == "postgresql":
        assert any("FROM backend_clinic WHERE id = $1 AND name <> $2" in text for text in _prepared_texts())
    else:  # SQLite: Django's own cursor, nothing to prepare
        assert connection.vendor == "sqlite"


def test_each_run_is_counted_and_logged_with_its_values():
    clinic = _clinic()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(2):
            with prepared_cursor() as cursor:
                cursor.execute(SQL, [clinic.pk, "nobody"])
    assert len(queries.captured_queries) == 2
    for query in queries.captured_queries:  # psycopg keeps no text of a prepared run
        assert query["sql"] is not None
        assert str(clinic.pk) in query["sql"] and "'nobody'" in query["sql"]


def test_a_database_error_is_djangos():
    from django.db import DatabaseError

    with pytest.raises(DatabaseError), prepared_cursor() as cursor:
        cursor.execute("SELECT no_such_column FROM backend_clinic WHERE id = %s", [1])
