"""The history one evaluation reads: bounded by what the rules can look at (issue 17).

A check-in used to read every past check-in and every lab of the patient, so its cost
grew with the history. ``history_read`` reads, in ONE statement (a UNION ALL of
LIMITed selects, served by the (patient, taken_at) and (patient, code, observed_at)
indexes), only what the compiled rules' :class:`~followup.rules.HistoryHorizon`
names (``followup/rules/horizon.py`` says why that gives the same evaluation):

* the latest ``check_ins`` check-ins before the judged time (``previous``,
  ``consecutive``): ``LIMIT check_ins``;
* per window reference, the one row it picks, asked of the database: the lowest
  weight of the last 72 h, the latest check-in of the last 24 h with a fever, the
  earliest weight of the last 90 days: ``LIMIT 1`` each;
* per lab code the check-in rules read, the latest results they compare and, for
  ``lowest_since_surgery``, the two lowest since surgery: ``LIMIT n``.

So the rows shipped and parsed are at most ``check_ins + len(windows) + labs``,
whatever the history. The database still walks the index entries of a window to find
its row (the lowest weight of 72 h has to look at each weight of 72 h); that walk is
bounded by how many check-ins a window can hold, which the per-patient rate limit
keeps to about 12 an hour from the patient (864 in 72 h, plus staff entries). For the
weight and the temperature, which the shipped windows read, the walk touches index
entries only: they are stored generated columns (``CheckIn.answer_weight_kg``,
``answer_temperature_c``: the same SQL expression as the JSON read,
``followup.history_sql.AnswerNumber``) in the index (patient, taken_at, id, weight,
temperature), so the row's id is picked without reading a table row or decoding any
JSON, and then that one row is read (``bench/explain.py`` prints the plan;
``tests/followup/services/test_history_weight_index.py`` pins it). Other questions'
windows decode the JSON of the window's rows. Correctness never depends on
the rate limit: every select is exact, the LIMITs only cut rows the rules cannot reach.

Everything is judged "as it stood": check-ins strictly before the judged time, labs at
or before it, so a late entry (a nurse typing in a phone call of yesterday) is judged
against the history of yesterday. The episode's baseline weight is a field of the
episode (the discharge weight, set at enrollment), read with the enrollment.
"""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_datetime

from backend.prepared import prepared_cursor
from followup.history_sql import STORED_NUMBERS, AnswersSql, Params
from followup.models import CheckIn, Observation
from followup.rules import HistoryHorizon, LabResult, PastCheckIn, Window

_CAST_TYPES = {
    "postgresql": {"json": "jsonb", "text": "varchar", "real": "double precision"},
    "sqlite": {"json": "text", "text": "text", "real": "real"},
}


@dataclass(frozen=True)
class History:
    check_ins: list[PastCheckIn]
    labs: list[LabResult]


def history_read(
    *, patient_id: int, timezone: str, moment: datetime, horizon: HistoryHorizon, surgery_date: date | None
) -> History:
    """The check-ins and labs ``horizon`` names, as they stood at ``moment``; one
    statement (none when the rules read no history at all)."""
    return history_statement(
        patient_id=patient_id, timezone=timezone, moment=moment, horizon=horizon, surgery_date=surgery_date
    ).run(zoneinfo.ZoneInfo(timezone))


def history_statement(
    *, patient_id: int, timezone: str, moment: datetime, horizon: HistoryHorizon, surgery_date: date | None
) -> _Query:
    """The statement ``history_read`` runs (``.sql()`` gives it, for EXPLAIN)."""
    query = _Query(patient_id=patient_id, moment=moment)
    if horizon.unbounded:
        query.check_ins("", [], order="taken_at, id", limit=None)
    else:
        if horizon.check_ins:
            query.check_ins("", [], order="taken_at DESC, id DESC", limit=horizon.check_ins)
        for window in horizon.windows:
            query.window(window)
    zone = zoneinfo.ZoneInfo(timezone)
    for code, count in horizon.lab_latest:
        query.labs(code, "", [], order="observed_at DESC, id DESC", limit=count)
    if surgery_date is not None:
        # "Since surgery" is on the patient's local date (the engine's rule).
        since = query.param(datetime.combine(surgery_date, time.min, tzinfo=zone))
        for code in horizon.lab_lowest_since_surgery:
            # Two: the lowest may be the latest result, which the rule leaves out.
            query.labs(code, "AND observed_at >= %s", [since], order="value, observed_at, id", limit=2)
    return query


class _Query:
    """A UNION ALL of selects, each with its ORDER BY and LIMIT (wrapped, since SQLite
    refuses them directly inside a compound select)."""

    def __init__(self, *, patient_id: int, moment: datetime) -> None:
        self.vendor = connection.vendor
        self.answers = AnswersSql(self.vendor, stored=STORED_NUMBERS)
        self.types = _CAST_TYPES[self.vendor]
        self.patient_id = patient_id
        self.moment = moment
        self.parts: list[tuple[str, Params]] = []

    def param(self, value: datetime) -> object:
        return connection.ops.adapt_datetimefield_value(value)

    def check_ins(self, where: str, params: Params, *, order: str, limit: int | None) -> None:
        table = connection.ops.quote_name(CheckIn._meta.db_table)
        self._part(
            # Table names, our own SQL and cast types only: every value is a parameter.
            f"SELECT 'c' AS kind, id, taken_at AS at, answers, CAST(NULL AS {self.types['text']}) AS code, "  # noqa: S608
            f"CAST(NULL AS {self.types['real']}) AS value, CAST(NULL AS {self.types['real']}) AS reference_low, "
            f"CAST(NULL AS {self.types['real']}) AS reference_high FROM {table} "
            f"WHERE patient_id = %s AND taken_at < %s {where}",
            [self.patient_id, self.param(self.moment), *params],
            order,
            limit,
        )

    def window(self, window: Window) -> None:
        start = self.param(self.moment - window.span)
        if window.kind == "latest_where":
            assert window.predicate is not None
            holds, params = self.answers.holds(window.predicate)
            if self.answers.only_stored(window.predicate):
                self._pick(f"AND {holds}", params, start, order="taken_at DESC, id DESC")
                return
            self.check_ins(f"AND taken_at >= %s AND {holds}", [start, *params], order="taken_at DESC, id DESC", limit=1)
            return
        stored = STORED_NUMBERS.get(window.question)
        if stored is not None:
            self._stored_window(window, stored, start)
            return
        number, params = self.answers.number(window.question)
        if window.kind == "lowest":
            # The number computed once a row, in ORDER BY only: should no row of the
            # window have one, the row read has none either and the engine finds no
            # lowest, as with the whole window.
            order = f"{number} ASC NULLS LAST, taken_at, id"
            self.check_ins("AND taken_at >= %s", [start, *params], order=order, limit=1)
        else:  # earliest: the window walked in time order, up to the first number
            where = f"AND taken_at >= %s AND {number} IS NOT NULL"
            self.check_ins(where, [start, *params], order="taken_at, id", limit=1)

    def _stored_window(self, window: Window, column: str, start: object) -> None:
        """A window over an answer stored as a generated column. The order is the JSON
        one's (``window``), over the same values."""
        if window.kind == "lowest":
            self._pick("", [], start, order=f"{column} ASC NULLS LAST, taken_at, id")
        else:  # earliest
            self._pick(f"AND {column} IS NOT NULL", [], start, order="taken_at, id")

    def _pick(self, where: str, params: Params, start: object, *, order: str) -> None:
        """The window's row picked by id from the index (patient, taken_at, id, stored
        answers) alone, when ``where`` and ``order`` read only those; then that one row."""
        table = connection.ops.quote_name(CheckIn._meta.db_table)
        pick = (
            f"SELECT id FROM {table} WHERE patient_id = %s AND taken_at < %s AND taken_at >= %s {where} "  # noqa: S608
            f"ORDER BY {order} LIMIT 1"
        )
        self.check_ins(
            f"AND id = ({pick})",
            [self.patient_id, self.param(self.moment), start, *params],
            order="taken_at, id",
            limit=1,
        )

    def labs(self, code: str, where: str, params: Params, *, order: str, limit: int) -> None:
        table = connection.ops.quote_name(Observation._meta.db_table)
        self._part(
            f"SELECT 'l' AS kind, id, observed_at AS at, CAST(NULL AS {self.types['json']}) AS answers, code, value, "  # noqa: S608
            f"reference_low, reference_high FROM {table} "
            f"WHERE patient_id = %s AND code = %s AND observed_at <= %s {where}",
            [self.patient_id, code, self.param(self.moment), *params],
            order,
            limit,
        )

    def _part(self, select: str, params: Params, order: str, limit: int | None) -> None:
        tail = f" ORDER BY {order}" + (f" LIMIT {int(limit)}" if limit is not None else "")
        self.parts.append((f"SELECT * FROM ({select}{tail}) AS part{len(self.parts)}", params))  # noqa: S608

    def sql(self) -> tuple[str, Params]:
        sql = " UNION ALL ".join(part for part, _ in self.parts)
        return sql, [param for _, part_params in self.parts for param in part_params]

    def run(self, zone: zoneinfo.ZoneInfo) -> History:
        if not self.parts:
            return History(check_ins=[], labs=[])
        sql, params = self.sql()
        with prepared_cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        check_ins: dict[int, tuple[datetime, Any]] = {}
        labs: dict[int, tuple[datetime, str, float, float | None, float | None]] = {}
        for kind, pk, at, answers, code, value, low, high in rows:
            if kind == "c":
                check_ins[pk] = (_aware(at), _json(answers))
            else:
                labs[pk] = (_aware(at), code, value, low, high)
        # In (time, id) order, the order the whole history was read in: ties in time
        # fall as they always did.
        return History(
            check_ins=[
                PastCheckIn(taken_at=at, answers=answers)
                for _, (at, answers) in sorted(check_ins.items(), key=lambda item: (item[1][0], item[0]))
            ],
            labs=[
                LabResult(
                    code=code,
                    value=value,
                    observed_at=at.astimezone(zone),
                    reference_low=low,
                    reference_high=high,
                )
                for _, (at, code, value, low, high) in sorted(labs.items(), key=lambda item: (item[1][0], item[0]))
            ],
        )


def _aware(value: datetime | str) -> datetime:
    # SQLite hands a compound select's datetimes back as the text it stores (UTC).
    if isinstance(value, str):
        parsed = parse_datetime(value)
        assert parsed is not None, value
        value = parsed
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _json(value: object) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value
