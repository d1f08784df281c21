"""A cursor whose statements PostgreSQL prepares once per connection (issue 17).

Django binds parameters on the client: every statement reaches PostgreSQL as new SQL
text, parsed, analysed and planned again each time. For the two reads every check-in
runs (the enrollment with the patient locked, ``followup.selectors``, and the bounded
history, ``followup.history``: long SQL over several tables) that work cost more of
PostgreSQL's time than executing them: in `bench/` terms 0.40 and 0.47 ms of server
CPU against 0.10 and 0.13 ms prepared.

``prepared_cursor()`` gives Django's own cursor wrapper (so query counting, execute
wrappers and error translation work as for ``connection.cursor()``) over a
server-binding psycopg cursor that prepares each statement on its first run on a
connection and afterwards sends only the values. The pool keeps the connection, and so
its prepared statements (psycopg keeps the last 100), from request to request.
Django's ordinary cursors bind on the client and never prepare, so nothing else
changes. Elsewhere (SQLite) it is ``connection.cursor()``.

Statements written for it take every value as a parameter and select named columns, so
a prepared statement's result keeps its shape when a migration adds columns. A
migration that changes the type of a column they return makes PostgreSQL refuse a
running process's prepared statement ("cached plan must not change result type") until
the process restarts (docker-compose.yml starts the processes after its migrate step).
PgBouncer in transaction mode needs `max_prepared_statements` (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper


@contextmanager
def prepared_cursor() -> Iterator[Any]:
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        raw = _preparing_cursor_class()(connection.connection)
    # Django's own wrapping, so execute wrappers, query counting and error translation
    # apply; when queries are logged, the logged text is composed here (see below).
    cursor = _LoggedCursor(raw, connection) if connection.queries_logged else connection.make_cursor(raw)
    with cursor:
        yield cursor


class _LoggedCursor(CursorDebugWrapper):
    """psycopg keeps no text of a prepared statement's run, which Django's log reads
    (``last_executed_query``): the statement is logged composed with its values, as
    Django logs a server-binding connection's statements."""

    def execute(self, sql: str, params: Any = None) -> Any:
        with self.debug_sql(self.db.ops.compose_sql(sql, params or ())):
            return CursorWrapper.execute(self, sql, params)


_CLASS: list[type[Any]] = []


def _preparing_cursor_class() -> type[Any]:
    # Built on first use: Django's PostgreSQL backend imports psycopg, absent on SQLite.
    if not _CLASS:
        from django.db.backends.postgresql.base import ServerBindingCursor

        class PreparingCursor(ServerBindingCursor):  # type: ignore[misc, valid-type]
            """Prepared on the first run (not psycopg's fifth): the same work for the
            first check-in on a connection as for the next ones."""

            def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
                return super().execute(query, params, prepare=True, **options)

        _CLASS.append(PreparingCursor)
    return _CLASS[0]
