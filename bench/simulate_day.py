"""A compressed day of Vigil for a hospital group: the peak rates each component holds.

Run: ``.venv/bin/python bench/simulate_day.py [--patients 100000] [--clinics 50]
[--seed 1] [--acute-share FRACTION]``

A load model, driven by the default protocol's own schedule (followup/protocols,
``generate_plan``), that plays one day second by second (86,400 one-second bins, in a
few seconds of computing) and prints the peak second and the peak minute of every
component: HTTP requests, websocket events and frames, SMS out and in, Celery tasks,
database writes. No Django, no database: it runs anywhere in a few seconds.

The model (each constant below is a parameter with the reason for its value):

* ``--patients`` enrolled patients across ``--clinics`` clinics; each patient lives in
  one of six time zones (patients often went home to another country) and is at a
  uniformly random point of the five-year plan (steady state: discharges every day),
  or, with ``--acute-share``, that share of them is within the 90-day acute phase (a
  surge: the worst case for check-ins);
* each due check-in is announced at 09:00 local (the plan's time) by the beat tick,
  answered after a delay (median 25 min), by SMS or the app; non-responders get a
  reminder half-way through the 12-hour window, some answer then, the rest are missed;
* an SMS check-in is a conversation: one message per question asked (the acute form
  or the surveillance form), replies about 40 s apart, one re-ask in twenty replies;
* triage: red and amber findings at rates typical of post-hepatectomy follow-up; a red
  finding pages the on-call surgeon (and the next person when not acknowledged),
  texts the red advice and a recall to the patient;
* labs are entered by staff in clinic hours; staff dashboards stay open in clinic hours
  and load pages now and then; Twilio posts two status callbacks per message.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from followup.protocols import DEFAULT_DATA_DIR, load_protocol  # noqa: E402
from followup.protocols.schedule import generate_plan  # noqa: E402

DAY = 86_400
TIMEZONES = ("Europe/Istanbul", "Europe/Berlin", "Europe/London", "Asia/Baku", "Europe/Kyiv", "America/New_York")

# --- rates (assumptions; change them here, the doc quotes this block) --------------------
SMS_SHARE = 0.6  # patients who answer by SMS rather than the app (many live abroad, older)
RESPONSE_RATE = 0.85  # answer before the reminder
RESPONSE_AFTER_REMINDER = 0.5  # of the rest, answer after the reminder
RESPONSE_MEDIAN_S = 25 * 60  # lognormal delay after the announcement
RESPONSE_SIGMA = 1.0
SMS_REPLY_GAP_S = 40  # between a question and its reply in a conversation
REASK_RATE = 0.05  # replies that cannot be read and are asked again
RED_RATE = 0.015  # check-ins triaged red
AMBER_RATE = 0.08  # check-ins triaged amber
RED_ACK_ESCALATE = 0.1  # red alerts paged to a second person (not acknowledged in 10 min)
DASHBOARDS_PER_CLINIC = 4  # open dashboards in clinic hours (each receives every event)
PAGE_LOADS_PER_DASHBOARD_HOUR = 12  # page loads and API reads by a staff member
APP_REQUESTS_PER_CHECK_IN = 3  # GET /me, GET the protocol, POST the check-in
STATUS_CALLBACKS_PER_SMS = 2  # sent, delivered
LAB_RESULTS_PER_LAB = 6  # bilirubin, INR, ALT, AST, ALP, albumin (acute); CEA later
# Database writes per operation (rows inserted or updated, audit rows included).
WRITES_CHECK_IN = 7  # check-in, scheduled check-in, 2 audit, event, patient lock, history
WRITES_ALERT = 5  # alert, occurrence, audit, event, escalation deadline
WRITES_SMS_OUT = 4  # outbox row, claim, sent, delivery attempt
WRITES_SMS_STATUS = 1  # status callback (forward only)
WRITES_SMS_IN = 3  # inbound row (MessageSid claim), conversation, history
WRITES_LAB = 3  # observation, audit, event
WRITES_PAGE_LOAD = 1  # audit of the read


@dataclass
class Component:
    name: str
    unit: str
    bins: list[int]

    def add(self, second: float, count: int = 1) -> None:
        index = int(second)
        if 0 <= index < DAY:
            self.bins[index] += count

    def peak_second(self) -> int:
        return max(self.bins)

    def peak_minute(self) -> float:
        window = sum(self.bins[:60])
        best = window
        for index in range(60, DAY):
            window += self.bins[index] - self.bins[index - 60]
            best = max(best, window)
        return best / 60

    def total(self) -> int:
        return sum(self.bins)


def plan_days(definition: object) -> tuple[dict[int, list[tuple[str, float, int]]], int]:
    """Items by days since discharge: (kind, seconds after local midnight, labs), and
    the plan's length in days. Computed once on a reference discharge date (month items
    fall on the same day offsets within a day or two, which is all a rate needs)."""
    discharge = date(2026, 1, 5)
    zone = "UTC"
    plan = generate_plan(
        definition,  # type: ignore[arg-type]
        discharge_date=discharge,
        surgery_date=discharge - timedelta(days=7),
        tz=zone,
        enrolled_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    by_day: dict[int, list[tuple[str, float, int]]] = {}
    for item in plan:
        local = item.due_at.astimezone(ZoneInfo(zone))
        seconds = local.hour * 3600 + local.minute * 60
        by_day.setdefault(item.day, []).append((item.kind, seconds, len(item.labs)))
    return by_day, max(by_day)


def lognormal_delay(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


def simulate(args: argparse.Namespace) -> tuple[dict[str, Component], dict[str, float]]:
    rng = random.Random(args.seed)
    definition = load_protocol(DEFAULT_DATA_DIR / "post-hepatectomy")
    by_day, length = plan_days(definition)
    acute_last = definition.schedule.acute_last_day
    acute_questions = len(definition.questions) - 4  # drain, pulse and follow-up questions are asked of few
    surveillance_questions = len(definition.surveillance_question_ids)
    names = {
        "http": "HTTP requests/s (API, webhooks, pages)",
        "ws_events": "websocket events/s (channel-layer group sends)",
        "ws_frames": "websocket frames/s (to every open dashboard)",
        "sms_out": "SMS out/s (to Twilio)",
        "sms_in": "SMS in/s (inbound webhooks)",
        "celery": "Celery tasks/s (sms + rules + time)",
        "db_writes": "DB writes/s (rows inserted or updated)",
        "check_ins": "check-ins/s (rules evaluations)",
    }
    components = {key: Component(key, label, [0] * DAY) for key, label in names.items()}
    c = components
    # A reference day: a Tuesday in March, clocks not changing.
    day_start = datetime(2026, 3, 10, tzinfo=UTC)
    offsets = {tz: ZoneInfo(tz).utcoffset(day_start.replace(hour=12)).total_seconds() for tz in TIMEZONES}
    clinic_zone = [TIMEZONES[i % len(TIMEZONES)] for i in range(args.clinics)]
    counts = {"due": 0, "answered": 0, "sms_conversations": 0, "red": 0, "amber": 0, "labs": 0}

    def local_to_utc_second(local_second: float, tz: str) -> float:
        return local_second - offsets[tz]

    for _patient in range(args.patients):
        tz = TIMEZONES[rng.randrange(len(TIMEZONES))]
        if args.acute_share and rng.random() < args.acute_share:
            days_since = rng.randrange(1, acute_last + 1)
        else:
            days_since = rng.randrange(1, length + 1)
        items = by_day.get(days_since)
        if not items:
            continue
        sms = rng.random() < SMS_SHARE
        questions = acute_questions if days_since <= acute_last else surveillance_questions
        for kind, local_second, labs in items:
            due = local_to_utc_second(local_second, tz)
            if kind == "lab":
                # Results entered by staff in clinic hours, some hours after the draw.
                counts["labs"] += 1
                entered = due + rng.uniform(2 * 3600, 7 * 3600)
                for offset in range(labs or LAB_RESULTS_PER_LAB):
                    c["http"].add(entered + offset * 20)
                    c["db_writes"].add(entered + offset * 20, WRITES_LAB)
                    c["ws_events"].add(entered + offset * 20)
                    c["ws_frames"].add(entered + offset * 20, DASHBOARDS_PER_CLINIC)
                continue
            if kind != "check_in":
                continue  # visits and imaging: a reminder SMS the day before (below)
            counts["due"] += 1
            # Announced by the beat tick (60 s period): within a minute of the due time.
            announced = due + rng.uniform(0, 60)
            c["celery"].add(announced)  # the tick's share of the work
            if sms:
                c["sms_out"].add(announced)  # the invitation (first question)
                c["celery"].add(announced)
                c["db_writes"].add(announced, WRITES_SMS_OUT)
            if rng.random() < RESPONSE_RATE:
                start = announced + lognormal_delay(rng, RESPONSE_MEDIAN_S, RESPONSE_SIGMA)
            else:
                reminder = announced + 6 * 3600
                c["sms_out"].add(reminder)
                c["celery"].add(reminder)
                c["db_writes"].add(reminder, WRITES_SMS_OUT)
                if rng.random() >= RESPONSE_AFTER_REMINDER:
                    continue  # missed at the window's close: a worklist row
                start = reminder + lognormal_delay(rng, RESPONSE_MEDIAN_S, RESPONSE_SIGMA)
            counts["answered"] += 1
            if sms:
                counts["sms_conversations"] += 1
                moment = start
                for question in range(questions):
                    replies = 2 if rng.random() < REASK_RATE else 1
                    for _ in range(replies):
                        c["sms_in"].add(moment)
                        c["http"].add(moment)  # the inbound webhook
                        c["db_writes"].add(moment, WRITES_SMS_IN)
                        if question < questions - 1 or replies == 2:
                            c["sms_out"].add(moment + 1)  # the next question (or the re-ask)
                            c["celery"].add(moment + 1)
                            c["db_writes"].add(moment + 1, WRITES_SMS_OUT)
                        moment += rng.uniform(0.5, 1.5) * SMS_REPLY_GAP_S
                finished = moment
                c["celery"].add(finished)  # the conversation's check-in (rules queue)
                c["sms_out"].add(finished + 1)  # the triage reply
                c["celery"].add(finished + 1)
                c["db_writes"].add(finished + 1, WRITES_SMS_OUT)
            else:
                finished = start
                for offset in range(APP_REQUESTS_PER_CHECK_IN):
                    c["http"].add(start - 30 + offset * 15)
            c["check_ins"].add(finished)
            c["db_writes"].add(finished, WRITES_CHECK_IN)
            c["ws_events"].add(finished)
            c["ws_frames"].add(finished, DASHBOARDS_PER_CLINIC)
            draw = rng.random()
            if draw < RED_RATE:
                counts["red"] += 1
                c["db_writes"].add(finished, WRITES_ALERT)
                c["ws_events"].add(finished)
                c["ws_frames"].add(finished, DASHBOARDS_PER_CLINIC)
                pages = 2 if rng.random() < RED_ACK_ESCALATE else 1
                for page in range(pages):
                    moment = finished + page * 600
                    c["sms_out"].add(moment + 1)
                    c["celery"].add(moment + 1)
                    c["db_writes"].add(moment + 1, WRITES_SMS_OUT)
                for _text in ("red advice", "recall"):
                    c["sms_out"].add(finished + 2)
                    c["celery"].add(finished + 2)
                    c["db_writes"].add(finished + 2, WRITES_SMS_OUT)
            elif draw < RED_RATE + AMBER_RATE:
                counts["amber"] += 1
                c["db_writes"].add(finished, WRITES_ALERT)
                c["ws_events"].add(finished)
                c["ws_frames"].add(finished, DASHBOARDS_PER_CLINIC)
    # Appointment reminders (visits, labs, imaging tomorrow) at 10:00 local, rate by plan.
    visits_per_patient_day = sum(
        1
        for items in by_day.values()
        for kind, _s, _l in items
        if kind in {"telemedicine", "clinic_visit", "lab", "imaging"}
    ) / max(length, 1)
    reminders = int(args.patients * visits_per_patient_day)
    for _ in range(reminders):
        tz = TIMEZONES[rng.randrange(len(TIMEZONES))]
        moment = local_to_utc_second(10 * 3600 + rng.uniform(0, 300), tz)
        c["sms_out"].add(moment)
        c["celery"].add(moment)
        c["db_writes"].add(moment, WRITES_SMS_OUT)
    # Staff: dashboards open in clinic hours (08:00-18:00 local), page loads and reads.
    for index in range(args.clinics):
        tz = clinic_zone[index]
        for _dashboard in range(DASHBOARDS_PER_CLINIC):
            for _load in range(PAGE_LOADS_PER_DASHBOARD_HOUR * 10):
                moment = local_to_utc_second(rng.uniform(8 * 3600, 18 * 3600), tz)
                c["http"].add(moment)
                c["db_writes"].add(moment, WRITES_PAGE_LOAD)
    # Twilio's status callbacks: two per outbound message, a few seconds after it.
    outbound = c["sms_out"].bins
    for second in range(DAY):
        if outbound[second]:
            for callback in range(STATUS_CALLBACKS_PER_SMS):
                c["http"].add(second + 2 + callback * 3, outbound[second])
                c["db_writes"].add(second + 2 + callback * 3, outbound[second] * WRITES_SMS_STATUS)
    # Beat: the six periodic tasks (every 20 s to 5 min): about 0.1 task/s, spread.
    for second in range(0, DAY, 10):
        c["celery"].add(second)
    counts["reminders"] = reminders
    return components, counts


def busiest_minute(component: Component) -> str:
    window = sum(component.bins[:60])
    best, at = window, 0
    for index in range(60, DAY):
        window += component.bins[index] - component.bins[index - 60]
        if window > best:
            best, at = window, index - 59
    return f"{at // 3600:02d}:{at % 3600 // 60:02d} UTC"


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--clinics", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--acute-share", type=float, default=0.0, help="share of patients within the 90-day acute phase (a surge)"
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    components, counts = simulate(args)
    seconds = time.perf_counter() - began
    scenario = f"{args.acute_share:.0%} of them in the acute phase" if args.acute_share else "steady state"
    out(
        f"A day for {args.patients:,} enrolled patients across {args.clinics} clinics in six time zones ({scenario}),"
        f" played in {seconds:.1f} s:"
    )
    out(
        f"  {counts['due']:,} check-ins due, {counts['answered']:,} answered ({counts['sms_conversations']:,} by SMS),"
        f" {counts['red']:,} red and {counts['amber']:,} amber, {counts['labs']:,} lab panels,"
        f" {counts['reminders']:,} appointment reminders"
    )
    out("")
    out(f"| {'component':48s} | {'day total':>10s} | {'peak minute /s':>14s} | {'peak second':>11s} | busiest minute |")
    out(f"|{'-' * 50}|{'-' * 12}|{'-' * 16}|{'-' * 13}|{'-' * 16}|")
    summary = {}
    for component in components.values():
        summary[component.name] = {
            "total": component.total(),
            "peak_minute": component.peak_minute(),
            "peak_second": component.peak_second(),
        }
        out(
            f"| {component.unit:48s} | {component.total():>10,} | {component.peak_minute():>14.2f} |"
            f" {component.peak_second():>11,} | {busiest_minute(component):14s} |"
        )
    return summary


if __name__ == "__main__":
    main()
