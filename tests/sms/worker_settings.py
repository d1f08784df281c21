"""Settings of the Celery worker the crash tests start: the project's, with a short
"stuck in sending" threshold so a test need not wait a minute to see it verified."""

from config.settings import *  # noqa: F403

SMS_SENDING_STALE_SECONDS = 2
