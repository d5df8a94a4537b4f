"""Odds Lab settings: one file, driven by environment variables (see README "Configuration")."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
# DJANGO_ENV=production: a deployment. It refuses to start without a secret key of its own, and
# serves HTTPS only (see "Security" below); anything else is a local machine or a test run.
PRODUCTION = os.environ.get("DJANGO_ENV", "").strip().lower() == "production"
LOCAL_SECRET_KEY = "oddslab-local-development-key-not-for-production"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "").strip() or LOCAL_SECRET_KEY
if PRODUCTION and SECRET_KEY == LOCAL_SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_ENV=production needs DJANGO_SECRET_KEY: a long random key of the "
                               "deployment's own, never the local development key.")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# Behind a load balancer that terminates TLS, the header it sets on HTTPS requests (X-Forwarded-Proto),
# so that Django knows the client's request was secure; set it only if the proxy always sets it.
if os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER", "").strip():
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + os.environ["DJANGO_SECURE_PROXY_SSL_HEADER"].strip().upper().replace("-", "_"),
                               "https")
if PRODUCTION:
    # HTTPS only: cookies never travel in clear, plain HTTP is redirected (but the load balancer's
    # /healthz probe), and HSTS keeps browsers on HTTPS. `manage.py check --deploy` is clean.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)

# --- Database and Redis: real servers from the URLs, or the embedded ones under var/ -------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
if not DATABASE_URL or not REDIS_URL:
    from oddslab import localservices

    embedded_database_url, embedded_redis_url = localservices.ensure()
    DATABASE_URL = DATABASE_URL or embedded_database_url
    REDIS_URL = REDIS_URL or embedded_redis_url

DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise RuntimeError("Odds Lab runs on PostgreSQL only (row locks, CHECK constraints, triggers).")
# A pooled connection per request: under ASGI a fresh connection per request roughly halves
# a one-query view's throughput (DESIGN.md). CONN_MAX_AGE must stay 0 with the pool.
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Parameters bound by the server and statements prepared on their fifth use on a connection:
# PostgreSQL then skips parsing and planning, which was more than half of its time on a placement's
# short statements (bench/RESULTS.md, 2026-11-29 evening).
DATABASES["default"]["OPTIONS"] = {
    "server_side_binding": True,
    "prepare_threshold": 5,
    "pool": {
        "min_size": int(os.environ.get("DATABASE_POOL_MIN_SIZE", "2")),
        "max_size": int(os.environ.get("DATABASE_POOL_MAX_SIZE", "20")),
        "timeout": int(os.environ.get("DATABASE_POOL_TIMEOUT", "20")),  # whole seconds
    },
}
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("DATABASE_TEST_NAME", "test_oddslab")}

# Every Redis key and pub/sub channel of the platform (cache, channel layer, live streams, Celery)
# starts with this, so two sites or test runs can share one Redis without hearing each other
# (pub/sub channels ignore database numbers). A test run takes one of its own, named after its test
# database, which tests/conftest.py clears first; the processes a test starts inherit it.
REDIS_PREFIX = os.environ.get("ODDSLAB_REDIS_PREFIX", "")
if not REDIS_PREFIX and os.environ.get("PYTEST_VERSION"):
    REDIS_PREFIX = f"{DATABASES['default']['TEST']['NAME']}:"

if REDIS_URL.startswith("unix://"):
    CELERY_BROKER_URL = "redis+socket://" + REDIS_URL.removeprefix("unix://")
else:
    CELERY_BROKER_URL = REDIS_URL

# --- Applications -------------------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "audit.apps.ScopedAdminConfig",  # django.contrib.admin with the tenant-scoped site (audit.admin_tools)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",  # log-in throttling (accounts/throttle.py)
    "drf_spectacular",
    "channels",
    "django_htmx",
    "pgtrigger",
    "simple_history",
    "audit",
    "ledger",
    "events",
    "risk",
    "wallet",
    "accounts",
    "feed",
    "betting",
    "casino",
    "agents",
    "oddslab.web",  # player pages (HTMX) and their sockets
    "oddslab.console",  # staff pages under /admin/console/: liabilities, reports, exports
    "oddslab",  # project-wide management commands (seed_demo)
]

# WhiteNoise (sync-only) comes last, not second as its docs suggest: under ASGI, Django runs every
# middleware above the innermost sync-only one synchronously in the request's thread. With it
# second, the async-capable ones below it ran in the event loop, and Django's MiddlewareMixin
# crosses to a thread and back for each process_request/process_response: about a dozen crossings
# a request, a fifth of the Daphne CPU of a one-query request (bench/RESULTS.md, 2026-11-29 evening).
# Static files now pass the session, CSRF and auth middleware first, which touch nothing lazily.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.hygiene.StorableInputMiddleware",  # 400 for NUL / lone surrogates in paths, queries, forms
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.ClientSessionMiddleware",  # request.session_started of a logged-in browser
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out log-in page into the lockout page (429)
    "whitenoise.middleware.WhiteNoiseMiddleware",
]

ROOT_URLCONF = "oddslab.urls"
ASGI_APPLICATION = "oddslab.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
# Argon2 first: new and re-hashed passwords use it; older hashes still verify.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# --- Log-in throttling and API tokens ------------------------------------------------------------
# axes' backend comes first: it refuses a locked username or address before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "accounts.throttle.LoginThrottle"
# axes has one failure limit for all its lockout parameters; the address has its own, higher limit
# (AUTH_IP_FAILURE_LIMIT), counted by LoginThrottle, so axes' warning that it is missing is silenced.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_FAILURE_LIMIT = int(os.environ.get("AUTH_USERNAME_FAILURE_LIMIT", "5"))
AUTH_IP_FAILURE_LIMIT = int(os.environ.get("AUTH_IP_FAILURE_LIMIT", "100"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AUTH_LOCKOUT_MINUTES", "15")))
# A refused attempt during a lock does not extend it: the lock lifts AXES_COOLOFF_TIME after the
# failure that set it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "audit.context.client_ip"  # honours ODDSLAB_TRUSTED_PROXY_IP_HEADER
AXES_LOCKOUT_CALLABLE = "accounts.throttle.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful log-ins are in the audit trail already
AXES_ENABLE_ADMIN = False  # attempts are counters, not records: the audit trail keeps the failures
AXES_VERBOSE = False
# API tokens expire this long after they were issued; logging in again issues a fresh one.
AUTH_TOKEN_TTL_HOURS = int(os.environ.get("AUTH_TOKEN_TTL_HOURS", "720"))

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or None  # set it where collectstatic runs
# WhiteNoise serves static files from Daphne; finders mean no collectstatic step to run locally.
WHITENOISE_USE_FINDERS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Behind a load balancer, the client address comes from this header (e.g. X-Forwarded-For);
# unset, REMOTE_ADDR is trusted.
TRUSTED_PROXY_IP_HEADER = os.environ.get("ODDSLAB_TRUSTED_PROXY_IP_HEADER", "")

# --- Cache, channels, Celery ------------------------------------------------------------------
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                "KEY_PREFIX": REDIS_PREFIX},
}
# core/live.py publishes to this layer's Redis channels itself ("<prefix>__group__<group>").
CHANNEL_LAYER_PREFIX = f"{REDIS_PREFIX}asgi"
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNEL_LAYER_PREFIX},
    },
}

CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_PREFIX} if REDIS_PREFIX else {}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# At-least-once delivery: a task is acknowledged after it ran, and re-queued when its worker dies,
# so every task must be idempotent (DESIGN.md).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "ledger-checkpoint": {
        "task": "ledger.tasks.ledger_checkpoint_task",
        "schedule": timedelta(seconds=int(os.environ.get("LEDGER_CHECKPOINT_SECONDS", "60"))),
    },
    "bets-pending-sweep": {
        "task": "betting.tasks.bets_pending_sweep_task",
        "schedule": timedelta(seconds=int(os.environ.get("BETS_SWEEP_SECONDS", "5"))),
    },
    "settlement-sweep": {
        "task": "betting.tasks.settlement_sweep_task",
        "schedule": timedelta(seconds=int(os.environ.get("SETTLEMENT_SWEEP_SECONDS", "5"))),
    },
    "external-wallet-sweep": {
        "task": "wallet.tasks.external_confirm_sweep_task",
        "schedule": timedelta(seconds=int(os.environ.get("EXTERNAL_WALLET_SWEEP_SECONDS", "10"))),
    },
    "challenges-expire": {
        "task": "betting.tasks.challenges_expire_task",
        "schedule": timedelta(seconds=int(os.environ.get("CHALLENGES_EXPIRE_SECONDS", "60"))),
    },
    "escrow-audit": {
        "task": "betting.tasks.escrow_audit_task",
        "schedule": timedelta(seconds=int(os.environ.get("ESCROW_AUDIT_SECONDS", "60"))),
    },
    "escrow-audit-prune": {
        "task": "betting.tasks.escrow_audits_prune_task",
        "schedule": timedelta(hours=1),
    },
    "ledger-reconcile": {
        "task": "ledger.tasks.ledger_reconcile_task",
        "schedule": timedelta(seconds=int(os.environ.get("LEDGER_RECONCILE_SECONDS", "300"))),
    },
    # A loosened limit applies at most this late after its cooling-off (the stricter one holds till then).
    "limit-changes-apply": {
        "task": "risk.tasks.limit_changes_apply_task",
        "schedule": timedelta(seconds=int(os.environ.get("LIMIT_CHANGES_SECONDS", "60"))),
    },
    # Agents' commission statements of the last complete week (Monday 00:00 UTC to Monday), shortly after
    # it ends; a week run again changes nothing (docs/agents.md).
    "commissions-run": {
        "task": "agents.tasks.commissions_run_task",
        "schedule": crontab(minute=os.environ.get("COMMISSIONS_RUN_MINUTE", "30"),
                            hour=os.environ.get("COMMISSIONS_RUN_HOUR", "0"),
                            day_of_week=os.environ.get("COMMISSIONS_RUN_DAY_OF_WEEK", "mon")),
    },
}

# Bets settled per transaction; a crash rolls back at most one batch.
SETTLEMENT_BATCH_SIZE = int(os.environ.get("SETTLEMENT_BATCH_SIZE", "1000"))
# How many settlement tasks a result fans out to, so several workers share one event's bets.
SETTLEMENT_FANOUT = int(os.environ.get("SETTLEMENT_FANOUT", "2"))

# Players on the leaderboard (/api/v1/leaderboard and its page).
LEADERBOARD_SIZE = int(os.environ.get("LEADERBOARD_SIZE", "20"))

# Live odds: price changes of one event are conflated into one message per window (docs/feed.md).
LIVE_CONFLATION_MS = int(os.environ.get("LIVE_CONFLATION_MS", "100"))
# The batched stream (/ws/v1/odds?batch=1): all messages of a window in one frame; at least 1 ms.
LIVE_BATCH_MS = max(1, int(os.environ.get("LIVE_BATCH_MS", "200")))
LIVE_HEARTBEAT_SECONDS = int(os.environ.get("LIVE_HEARTBEAT_SECONDS", "20"))

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    # DRF's defaults, each refusing text PostgreSQL cannot store (core.hygiene).
    "DEFAULT_PARSER_CLASSES": ["core.hygiene.StorableJSONParser", "core.hygiene.StorableFormParser",
                               "core.hygiene.StorableMultiPartParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Odds Lab API",
    "DESCRIPTION": "The public HTTP contract of Odds Lab (play-money sportsbook). "
    "Every error has the shape {error, message, details}.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # A choice set several components share is named once (else a hash-named enum and a warning).
    "ENUM_NAME_OVERRIDES": {"KycStatusEnum": "risk.models.KycStatus"},
}

# --- Tenants -----------------------------------------------------------------------------------
# The default white-label operator (a migration creates it): users created without a tenant belong to
# it, and its admins are the platform admin, who sees every tenant (audit.tenancy).
PLATFORM_TENANT = "oddslab"

# --- Money ------------------------------------------------------------------------------------
ODDSLAB_CURRENCY = "PLAY"
# The highest price a market may carry (bets have their own, lower, max price per selection).
ODDSLAB_PRICE_MAX = os.environ.get("ODDSLAB_PRICE_MAX", "1000")
# Worst-case payout one outcome may owe when no ExposureCap row says otherwise.
RISK_DEFAULT_EXPOSURE_CAP = os.environ.get("RISK_DEFAULT_EXPOSURE_CAP", "1000000.00")
# Players without verified identity may deposit at most this much in total.
RISK_KYC_DEPOSIT_THRESHOLD = os.environ.get("RISK_KYC_DEPOSIT_THRESHOLD", "1000000.00")
# ... and withdraw at most this much in total (API.md "Responsible gambling, KYC").
RISK_KYC_WITHDRAWAL_THRESHOLD = os.environ.get("RISK_KYC_WITHDRAWAL_THRESHOLD", "1000.00")

# Safer gambling: a player's looser limit or removal waits this long; a tighter one applies at once.
RG_COOLING_OFF_HOURS = int(os.environ.get("RG_COOLING_OFF_HOURS", "24"))
# A session's last-seen time is written at most this often.
SESSION_LAST_SEEN_SECONDS = int(os.environ.get("SESSION_LAST_SEEN_SECONDS", "60"))
# The length in seconds of a reality-check minute (PlayerRestriction.reality_check_minutes, the minutes
# the message reports): 60; tests shorten it to see checks come (docs/sessions.md).
REALITY_CHECK_MINUTE_SECONDS = os.environ.get("REALITY_CHECK_MINUTE_SECONDS", "60")  # decimal seconds

# KYC documents: numbers are encrypted with a key derived from DJANGO_SECRET_KEY and this salt
# (django-fernet-encrypted-fields); files are encrypted with the same key under MEDIA_ROOT.
LOCAL_FIELD_ENCRYPTION_KEY = "oddslab-local-field-encryption-salt"
SALT_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "").strip() or LOCAL_FIELD_ENCRYPTION_KEY
if PRODUCTION and SALT_KEY == LOCAL_FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured("DJANGO_ENV=production needs FIELD_ENCRYPTION_KEY: the salt of the key that "
                               "encrypts identity documents at rest.")
MEDIA_ROOT = os.environ.get("DJANGO_MEDIA_ROOT") or str(BASE_DIR / "var" / "media")
KYC_UPLOAD_MAX_BYTES = int(os.environ.get("KYC_UPLOAD_MAX_BYTES", str(5 * 1024 * 1024)))

# Transaction monitoring (API.md "Compliance"): each rule raises an alert, never blocks by itself.
AML_LARGE_DEPOSIT = os.environ.get("AML_LARGE_DEPOSIT", "10000.00")
AML_DAILY_DEPOSITS = os.environ.get("AML_DAILY_DEPOSITS", "20000.00")
AML_STRUCTURING_COUNT = int(os.environ.get("AML_STRUCTURING_COUNT", "3"))
AML_STRUCTURING_BAND = os.environ.get("AML_STRUCTURING_BAND", "0.10")  # within 10% below AML_LARGE_DEPOSIT
AML_LOW_TURNOVER_WITHDRAWAL = os.environ.get("AML_LOW_TURNOVER_WITHDRAWAL", "1000.00")
AML_LOW_TURNOVER_SHARE = os.environ.get("AML_LOW_TURNOVER_SHARE", "0.50")
AML_SHARED_IP_ACCOUNTS = int(os.environ.get("AML_SHARED_IP_ACCOUNTS", "3"))
# Behind a proxy that geolocates clients, the header carrying their ISO country (e.g. CF-IPCountry);
# unset, geofencing uses the player's registered country.
TRUSTED_COUNTRY_HEADER = os.environ.get("ODDSLAB_TRUSTED_COUNTRY_HEADER", "")
# The largest single deposit or withdrawal of play credits.
WALLET_MAX_TRANSACTION = os.environ.get("WALLET_MAX_TRANSACTION", "1000000.00")

# --- The casino sandbox (docs/casino.md): decimal strings, per round ---------------------------
CASINO_MIN_STAKE = os.environ.get("CASINO_MIN_STAKE", "0.10")  # each stake (a roulette bet's too)
CASINO_MAX_STAKE = os.environ.get("CASINO_MAX_STAKE", "1000.00")  # a round's total stake
CASINO_MAX_PAYOUT = os.environ.get("CASINO_MAX_PAYOUT", "50000.00")  # the most a round can pay back

# --- Peer-to-peer challenges and the simulated external wallet (docs/p2p.md) -------------------
# Seconds before an external transfer confirms (a decimal: tests use "0.2").
EXTERNAL_WALLET_CONFIRM_SECONDS = os.environ.get("EXTERNAL_WALLET_CONFIRM_SECONDS", "2")
# The share of external transfers that fail at confirmation ("0.3" = 30%); nothing moves then.
EXTERNAL_WALLET_FAILURE_RATE = os.environ.get("EXTERNAL_WALLET_FAILURE_RATE", "0")
# What the external service charges per confirmed transfer; the platform's treasury pays it.
EXTERNAL_WALLET_NETWORK_FEE = os.environ.get("EXTERNAL_WALLET_NETWORK_FEE", "0.50")
# False: the simulated service is down; what needs it answers 503 external_wallet_unavailable.
EXTERNAL_WALLET_AVAILABLE = env_bool("EXTERNAL_WALLET_AVAILABLE", True)
# The Retry-After (seconds) of that 503.
EXTERNAL_WALLET_RETRY_AFTER = int(os.environ.get("EXTERNAL_WALLET_RETRY_AFTER", "30"))
# A confirmation this many seconds overdue is picked up by the beat sweep (its task was lost).
EXTERNAL_WALLET_SWEEP_GRACE_SECONDS = int(os.environ.get("EXTERNAL_WALLET_SWEEP_GRACE_SECONDS", "5"))
# How many times a failed movement out of escrow (payout, refund, sweep) is asked again before it
# waits in the vault for an operator (admin action "Retry payout").
EXTERNAL_WALLET_RETRY_LIMIT = int(os.environ.get("EXTERNAL_WALLET_RETRY_LIMIT", "5"))
# The first retry's extra wait beyond the confirmation time, in seconds; it doubles with each retry.
EXTERNAL_WALLET_RETRY_BACKOFF_SECONDS = os.environ.get("EXTERNAL_WALLET_RETRY_BACKOFF_SECONDS", "2")
# Routine balanced liquidity audit runs older than this are deleted (failed runs and the runs either
# side of a change of state are kept).
ESCROW_AUDIT_RETENTION_DAYS = int(os.environ.get("ESCROW_AUDIT_RETENTION_DAYS", "30"))
# The platform's share of a challenge's pot: the winner gets pot × (1 − rate), rounded down.
P2P_FEE_RATE = os.environ.get("P2P_FEE_RATE", "0.05")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}, "pgserver": {"level": "WARNING"},
                "axes": {"level": "WARNING"}},  # axes says INFO about every log-in
}
