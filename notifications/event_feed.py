"""Reading a clinic's stored events in `seq` order without losing one at the seam of
concurrent commits (the websocket feed and the dashboard's first render use it).

`seq` is taken from a database sequence when the Event row is inserted, but
transactions commit in their own order: transaction A may take seq 10, transaction B
seq 11, and B commit first. A reader that saw 11 and moved its position past 10 would
never deliver 10 — and a client never gets a decrease, so it would be lost for good.

So a reader only moves its position over a missing seq (a "hole") once the hole is
settled:
- on SQLite, writers are serialised (BEGIN IMMEDIATE), so a seq below a committed one
  can no longer appear: every hole is settled at once;
- on PostgreSQL, a hole below a committed seq belongs to a transaction that was running
  when the hole was seen, or to one that rolled back. The reader notes the transactions
  that are writing events at that moment (pg_locks); once none of them is still running,
  the holes it saw are final (rolled back). Later transactions cannot fill them: the
  sequence only goes up. A watch that outlives HOLE_WAIT_LIMIT (a long unrelated
  write transaction) gives up with an operations warning rather than stall the feed.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from notifications.models import Event

logger = logging.getLogger(__name__)

# How long a hole may hold the feed back before it is treated as a rollback. A
# check-in's transaction lasts milliseconds; this only bounds a pathological case.
HOLE_WAIT_LIMIT = 5.0
# Holes older than this many seqs below the newest event are not looked at when a
# position is first taken: a transaction does not stay open while that many later
# events commit, and an old rollback's hole must not pull every new feed back.
POSITION_LOOKBACK = 100


def _is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _running_transaction_ids() -> frozenset[str]:
    """The transactions of this database that have written to the event table and not
    finished: only they can still fill a hole. An INSERT holds ROW EXCLUSIVE on the
    table until its transaction ends, so pg_locks names them exactly (by virtual
    transaction id) — a long transaction that writes no event never holds a feed back,
    nor does another database's on the same server."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT virtualtransaction FROM pg_locks"
            " WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND relation = %s::regclass",
            [Event._meta.db_table],
        )
        return frozenset(row[0] for row in cursor.fetchall())


@dataclass
class _HoleWatch:
    # Every hole at or below `upto` was seen while `transaction_ids` were running.
    upto: int
    transaction_ids: frozenset[str]
    started: float = field(default_factory=time.monotonic)

    def settled(self) -> bool:
        if not self.transaction_ids:
            return True
        if not (self.transaction_ids & _running_transaction_ids()):
            return True
        if time.monotonic() - self.started > HOLE_WAIT_LIMIT:
            logger.warning(
                "event feed: a gap below seq %s stayed open for %.0fs; moving on (a long write transaction is running)",
                self.upto,
                HOLE_WAIT_LIMIT,
            )
            return True
        return False


@dataclass(frozen=True)
class FeedBatch:
    # This clinic's events, in seq order, as the websocket sends them.
    events: list[dict[str, Any]]
    # More events are stored but held back behind a hole that may still be filled.
    pending: bool
    # More events are stored beyond this batch (the batch limit was reached).
    more: bool


def event_message(*, seq: int, type: str, data: Any) -> dict[str, Any]:
    """One event as clients receive it: exactly these three keys."""
    return {"seq": seq, "type": type, "data": data}


class FeedCursor:
    """A reader's position in the installation-wide sequence: every seq at or below
    `position` is settled and, if it was this clinic's, already handed out."""

    def __init__(self, *, clinic_id: int, position: int) -> None:
        self.clinic_id = clinic_id
        self.position = position
        self._watch: _HoleWatch | None = None

    def read(self, *, limit: int = 500) -> FeedBatch:
        """The next settled events of the clinic after `position` (one or two queries,
        plus one per hole check on PostgreSQL); moves `position` past what it returns
        and past other clinics' events."""
        rows = list(Event.objects.filter(seq__gt=self.position).order_by("seq").values_list("seq", "clinic_id")[:limit])
        if not rows:
            return FeedBatch(events=[], pending=False, more=False)
        settled = self._settled_prefix(rows)
        own = [seq for seq, clinic_id in rows if seq <= settled and clinic_id == self.clinic_id]
        events: list[dict[str, Any]] = []
        if own:
            stored = Event.objects.filter(seq__in=own).order_by("seq").values_list("seq", "type", "data")
            events = [event_message(seq=seq, type=type_, data=data) for seq, type_, data in stored]
        self.position = max(self.position, settled)
        return FeedBatch(events=events, pending=settled < rows[-1][0], more=len(rows) == limit)

    def _settled_prefix(self, rows: list[tuple[int, int]]) -> int:
        """The highest seq up to which nothing can still appear."""
        if not _is_postgresql():
            return rows[-1][0]
        if self._watch is not None and self._watch.settled():
            final_upto: int | None = self._watch.upto
            self._watch = None
        else:
            final_upto = None
        settled = self.position
        for seq, _clinic_id in rows:
            if seq == settled + 1 or (final_upto is not None and seq - 1 <= final_upto):
                settled = seq
                continue
            # A hole below `seq`: note who is running now, unless already watching it.
            if self._watch is None:
                self._watch = _HoleWatch(upto=rows[-1][0], transaction_ids=_running_transaction_ids())
                if self._watch.settled():  # nobody running: the hole is a rollback
                    final_upto = self._watch.upto
                    self._watch = None
                    settled = seq
                    continue
            break
        return settled


def feed_position_now() -> int:
    """A position to start a feed from "now": the newest seq, or just below the
    oldest recent hole when a transaction that may fill it is still running (the
    dashboard renders its first page from the database after taking it, and a feed
    from here replays anything that commits behind it). One query, two with a hole."""
    if not _is_postgresql():
        return Event.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    recent = list(Event.objects.order_by("-seq").values_list("seq", flat=True)[:POSITION_LOOKBACK])
    if not recent:
        return 0
    recent.reverse()
    holes = [seq for previous, seq in itertools.pairwise(recent) if seq != previous + 1]
    if holes and _running_transaction_ids():
        first_after_hole = holes[0]
        return recent[recent.index(first_after_hole) - 1]
    return recent[-1]
