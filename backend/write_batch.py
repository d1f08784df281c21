"""One INSERT per table for the rows a unit of work only writes.

A red check-in writes three audit rows, three dashboard events, three outbox rows (the
page, the recall, the red advice) and their history entries; one statement each was
most of its round trips (issue 17). Inside ``write_batch()`` the writers of such rows
(``backend.audit``, ``notifications.events``, ``notifications.services.sms_enqueue``)
hand them to ``insert_rows`` instead, and they are written together, one INSERT per
table, when the block ends: still inside the caller's transaction, so they commit or
roll back with everything else (H1).

Only rows that nothing in the same unit of work reads back may be deferred, and never
inside a savepoint the code may roll back while the batch is open (a rolled-back
savepoint cannot take back a row it never wrote). What must happen once a row has its
primary key (an event's fan-out after commit, an outbox row's history entry and send
task) is the row's ``then`` callback, run right after its INSERT; it may defer more rows
(they are written in the same flush).

Outside ``write_batch()``, ``insert_rows`` writes at once: the same code works in both."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model

from backend.row_insert import rows_insert

Then = Callable[[list[Any]], None]
# Writes a group of rows of one model; the default is ``rows_insert`` (bulk_create's rows). A writer decides
# what a conflict means for its table (the outbox falls back to one row at a time).
Writer = Callable[[list[Any]], None]


@dataclass
class _Group:
    model: type[Model]
    writer: Writer | None
    rows: list[Model] = field(default_factory=list)
    thens: list[tuple[list[Model], Then]] = field(default_factory=list)


@dataclass
class _Batch:
    groups: list[_Group] = field(default_factory=list)

    def group(self, model: type[Model], writer: Writer | None) -> _Group:
        for group in self.groups:
            if group.model is model and group.writer is writer:
                return group
        group = _Group(model=model, writer=writer)
        self.groups.append(group)
        return group


_current: ContextVar[_Batch | None] = ContextVar("write_batch", default=None)


def _write(model: type[Model], rows: list[Model], writer: Writer | None) -> None:
    if writer is not None:
        writer(rows)
    else:
        rows_insert(rows)


def write_batch_open() -> bool:
    """Whether rows handed to ``insert_rows`` now wait for the end of a batch."""
    return _current.get() is not None


def insert_rows(rows: Sequence[Model], *, then: Then | None = None, writer: Writer | None = None) -> None:
    """Insert ``rows`` (all of one model) now, or at the end of the open ``write_batch``;
    ``then(rows)`` runs once they are written and have their primary keys."""
    if not rows:
        return
    model = type(rows[0])
    batch = _current.get()
    if batch is None:
        _write(model, list(rows), writer)
        if then is not None:
            then(list(rows))
        return
    group = batch.group(model, writer)
    group.rows.extend(rows)
    if then is not None:
        group.thens.append((list(rows), then))


def _flush(batch: _Batch) -> None:
    # Groups in the order their first row arrived (a row's foreign keys point at rows
    # written before the batch or in an earlier group); a ``then`` may add groups.
    while batch.groups:
        group = batch.groups.pop(0)
        _write(group.model, group.rows, group.writer)
        for rows, then in group.thens:
            then(rows)


@contextmanager
def write_batch() -> Iterator[None]:
    """Collect the deferrable rows written inside; write them when the block ends
    without an error (call it inside the transaction). Nested blocks join the outer."""
    if _current.get() is not None:
        yield
        return
    batch = _Batch()
    token = _current.set(batch)
    try:
        yield
        _flush(batch)
    finally:
        _current.reset(token)
