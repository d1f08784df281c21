"""Settings of the fault suite: the project's settings, on a database of its own and
with time compressed so that a fault and its recovery fit in a test.

Used by the pytest process (DJANGO_SETTINGS_MODULE=tests.faults.settings, set by
`make test-faults`) and by the web, worker and beat processes the harness starts.
Only timings change here, never a code path: the beat tasks are the production ones,
they just tick more often, and the outbox gives up on an unanswered send sooner.
"""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import CELERY_BEAT_SCHEDULE, DATABASES

# A database of the fault suite's own (dropped and re-created by the harness), so it
# never touches the database `make test` or a developer uses.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _name = DATABASES["default"]["NAME"]
    if not _name.endswith("_faults"):
        DATABASES["default"]["NAME"] = f"{_name}_faults"

# Beat ticks every few seconds instead of every minute: the sweeper re-drives what an
# outage left behind, escalations and the auditor run, within a test's patience.
_TICK = float(os.environ.get("VIGIL_FAULTS_TICK_SECONDS", "5"))
# Calendar entries (crontab: the nightly retention review) keep their time of day: no
# fault test waits on them.
CELERY_BEAT_SCHEDULE = {
    name: {**entry, "schedule": min(float(entry["schedule"]), _TICK)}
    if isinstance(entry["schedule"], int | float)
    else entry
    for name, entry in CELERY_BEAT_SCHEDULE.items()
}

# A send with no answer is verified against the fake Twilio after this long (the
# production default is a minute).
SMS_SENDING_STALE_SECONDS = float(os.environ.get("SMS_SENDING_STALE_SECONDS", "10"))
TWILIO_TIMEOUT = float(os.environ.get("TWILIO_TIMEOUT", "4"))
