"""Settings of the colorectal cancer outcomes registry.

Everything that differs between a laptop and a hospital server comes from an
environment variable, read through the small helpers below, which stop start-up
with a message naming the variable when a value is malformed. The README lists
every variable.
"""

import datetime
import os
import re
import secrets
import urllib.parse
import zoneinfo
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """Return the boolean value of environment variable `name`."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off."
    )


def env_list(name: str, default: list[str]) -> list[str]:
    """Return environment variable `name` split on commas, blanks dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Return the integer value of environment variable `name`."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def env_rate(name: str, default: str) -> str:
    """Return a request rate such as "600/minute" from environment variable `name`."""
    value = os.environ.get(name, default).strip()
    number, _, period = value.partition("/")
    if not (number.isdigit() and int(number) > 0) or period not in _PERIODS:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate: write requests/period, e.g. "
            "600/minute (period: second, minute, hour or day)."
        )
    return value


_PERIODS = {"second", "minute", "hour", "day"}


def env_time_zone(name: str, default: str) -> str:
    """Return a valid IANA time zone name from environment variable `name`."""
    value = os.environ.get(name, default)
    if value not in zoneinfo.available_timezones():
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a known time zone (e.g. Europe/London)."
        )
    return value


def env_database(name: str, default: str) -> dict:
    """Return a Django DATABASES entry parsed from the URL in variable `name`."""
    raw = os.environ.get(name) or default
    try:
        config = dj_database_url.parse(raw, conn_max_age=60)
    except Exception as exc:  # dj-database-url raises several types for bad URLs.
        raise ImproperlyConfigured(
            f"{name} is not a usable database URL ({exc}). Use sqlite:///path/to.db "
            "or postgres://user@host:5432/dbname."
        ) from None
    engine = config.get("ENGINE", "")
    if engine not in (
        "django.db.backends.sqlite3",
        "django.db.backends.postgresql",
    ):
        raise ImproperlyConfigured(
            f"{name} names the engine {engine or 'nothing'}; the registry supports "
            "SQLite (sqlite:///...) and PostgreSQL (postgres://...)."
        )
    config["ATOMIC_REQUESTS"] = True
    # A connection kept between requests is checked before reuse, so a database
    # restart costs one reconnect instead of a server error.
    config["CONN_HEALTH_CHECKS"] = True
    if engine == "django.db.backends.postgresql":
        # A report groups one row per patient; PostgreSQL's default 4 MB per sort
        # spills that to disk from about 10^5 patients (measured: 410 -> 250 ms).
        work_mem = os.environ.get("DATABASE_WORK_MEM", "32MB").strip()
        if not re.fullmatch(r"[0-9]+(kB|MB|GB)", work_mem):
            raise ImproperlyConfigured(
                f"DATABASE_WORK_MEM={work_mem!r} is not a size such as 32MB."
            )
        options = config.setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c work_mem={work_mem}"
    return config


#: Entries the cache keeps before it drops some (each small: a site's counts).
CACHE_ENTRIES = 5000


def env_cache(name: str) -> dict:
    """Return CACHES for the value of variable `name`: memory (the default) or database.

    ``memory``: each server process keeps its own (Django's local-memory cache).
    ``database``: one cache for every process, in the table ``registry_cache`` of
    the registry's database (``manage.py createcachetable`` makes it; ``make run``
    and ``make serve-prod`` run it). What is kept: the per-site summaries
    (registry.summaries) and the API's request counts per token.
    """
    value = os.environ.get(name, "").strip().lower() or "memory"
    # Django keeps 300 entries and then drops a third of them, the live with
    # the stale: the per-site summaries alone are three per site and version of
    # its data, and a write leaves the old ones until they expire (15 minutes).
    room = {"OPTIONS": {"MAX_ENTRIES": CACHE_ENTRIES}}
    backends = {
        "memory": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", **room},
        "database": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "registry_cache",
            **room,
        },
    }
    if value not in backends:
        raise ImproperlyConfigured(
            f"{name}={value!r} is neither memory (each server process its own) nor "
            "database (one cache for every process, in the registry's database)."
        )
    return {"default": backends[value]}


def env_replica_database(name: str) -> dict | None:
    """Return the DATABASES entry of the read replica in variable `name`, or None.

    Parsed like DATABASE_URL. Reports read from it inside
    ``registry.routers.reading_reports()``; it is never written to or migrated.
    Its reads need no transaction per request, and in tests it is the default
    database under another alias (Django's test mirror).
    """
    if not os.environ.get(name, "").strip():
        return None
    config = env_database(name, "")
    config["ATOMIC_REQUESTS"] = False
    config["TEST"] = {"MIRROR": "default"}
    return config


DEBUG = env_bool("DJANGO_DEBUG", False)


def env_email(name: str) -> dict:
    """Return Django's e-mail settings for the SMTP URL in variable `name`.

    ``smtp://user:password@host:587`` uses STARTTLS, ``smtps://...:465`` TLS; with
    the variable unset, mail (password resets) is printed to the console.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    url = urllib.parse.urlsplit(raw)
    try:
        port = url.port
    except ValueError:
        port = -1
    if url.scheme not in ("smtp", "smtps") or not url.hostname or port == -1:
        raise ImproperlyConfigured(
            f"{name} is not a usable mail server URL; use "
            "smtp://user:password@host:587 or smtps://user:password@host:465."
        )
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": url.hostname,
        "EMAIL_PORT": port or (465 if url.scheme == "smtps" else 587),
        "EMAIL_HOST_USER": urllib.parse.unquote(url.username or ""),
        "EMAIL_HOST_PASSWORD": urllib.parse.unquote(url.password or ""),
        "EMAIL_USE_TLS": url.scheme == "smtp",
        "EMAIL_USE_SSL": url.scheme == "smtps",
    }


def env_secret_key(name: str, file_name: str, default_file: Path) -> str:
    """Return the key in variable `name`, else in the file variable `file_name`
    names (default `default_file`), else "" when neither is set.

    A file named explicitly must exist: a mistyped path stops start-up with the
    variable named, rather than running on no key.
    """
    key = os.environ.get(name, "").strip()
    if key:
        return key
    named = os.environ.get(file_name)
    path = Path(named or default_file)
    if path.exists():
        return path.read_text().strip()
    if named:
        raise ImproperlyConfigured(f"{file_name}={named!r}: there is no such file.")
    return ""


SECRET_KEY = env_secret_key(
    "DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_FILE", BASE_DIR / "var" / "secret_key"
)
#: True when no key was configured. Commands that sign nothing (migrate,
#: makemigrations, seed_demo, report) still run, on a key of this process only;
#: serving refuses to start (registry.serving.require_secret_key), because
#: sessions and CSRF tokens signed with a throwaway key break on every restart.
SECRET_KEY_MISSING = not SECRET_KEY
if SECRET_KEY_MISSING:
    SECRET_KEY = (
        "insecure-development-key-only-for-DJANGO_DEBUG"
        if DEBUG
        else secrets.token_urlsafe(50)
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

DATABASES = {
    "default": env_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
_replica = env_replica_database("DATABASE_REPLICA_URL")
if _replica:
    DATABASES["replica"] = _replica
# Per-site summaries and the API's request counts: per process, or shared.
CACHES = env_cache("REGISTRY_CACHE")
# Writes and migrations go to default; reports' reads to the replica, if set.
DATABASE_ROUTERS = ["registry.routers.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    # First, so that its runserver (which refuses to serve without a secret
    # key) takes precedence over staticfiles' one.
    "registry",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "django_tables2",
    "simple_history",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "registry.middleware.refuse_null_characters",  # 400, before any view reads
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "registry.middleware.session_security",  # idle timeout, required 2FA
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "registry.middleware.no_store",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its message.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "registry.urls"
WSGI_APPLICATION = "registry.wsgi.application"

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
                "registry.context_processors.registry",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"  # noqa: E501
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "registry:home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_HOURS", 10, minimum=1) * 3600
SESSION_COOKIE_HTTPONLY = True
#: A session also ends after this many minutes without a request.
SESSION_IDLE_SECONDS = env_int("DJANGO_SESSION_IDLE_MINUTES", 30, minimum=1) * 60
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- HTTPS and headers (see the README's Security section) ----------------------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
if env_bool("DJANGO_BEHIND_HTTPS_PROXY", False):
    # Only behind a proxy that sets this header itself and strips it from clients.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Nothing inline and nothing from another origin: scripts and styles are files in
# static/; the report's figure and the two-factor QR code are data: images.
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
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- login protection (django-axes) ---------------------------------------------
#: Failed logins that lock an account, for that user from that address...
AXES_FAILURE_LIMIT = env_int("DJANGO_LOGIN_FAILURE_LIMIT", 5, minimum=1)
#: ...counted over, and locked for, this long.
AXES_COOLOFF_TIME = datetime.timedelta(
    minutes=env_int("DJANGO_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
if env_bool("DJANGO_PROXY_FORWARDS_FOR", False):
    # Only behind one proxy that appends the client's address to the header.
    AXES_CLIENT_IP_CALLABLE = "registry.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "registry.lockout.locked_out"
AXES_RESET_ON_SUCCESS = True
# The login pages post "username"; the admin's too.
AXES_USERNAME_FORM_FIELD = "username"
# Log each failure and lockout (username and address; never a password).
AXES_VERBOSE = True
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token"]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_time_zone("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# One unambiguous date format everywhere (ISO 8601, YYYY-MM-DD): pages, admin
# and date inputs. The locale's formats would win over DATE_FORMAT, so they are
# replaced by registry/formats/.
FORMAT_MODULE_PATH = ["registry.formats"]
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
DATE_INPUT_FORMATS = ["%Y-%m-%d"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve static/ directly in development and tests so no collectstatic is needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DJANGO_TABLES2_TEMPLATE = "django_tables2/table.html"
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5000

# Query strings may carry a searched-for MRN, and database errors quote the values
# they refuse: every log line goes through both filters. Logged: requests
# (without query strings), errors with their tracebacks, failed logins and
# lockouts (django-axes: username and address, never a password).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_query": {"()": "registry.logging.RedactQueryStringFilter"},
        "redact_database_detail": {"()": "registry.logging.RedactDatabaseDetailFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_query", "redact_database_detail"],
        },
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {
            "handlers": ["console"],
            "level": "ERROR",
            "propagate": False,
        },
        "axes": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
# No index on history_date alone: the audit log's (history_date, history_id)
# index of each history table (migration 0015) leads with it.
SIMPLE_HISTORY_DATE_INDEX = False

_email = env_email("DJANGO_EMAIL_URL")
EMAIL_BACKEND = _email.pop("EMAIL_BACKEND")
globals().update(_email)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "registry@localhost")

#: Two-factor login (django-otp) is optional for everyone; with this on, staff
#: must set it up and use it before any page but the set-up page opens.
REQUIRE_2FA = env_bool("DJANGO_REQUIRE_2FA", False)
OTP_TOTP_ISSUER = "CRC registry"
# The admin never shows another person's authenticator key, QR code or backup
# codes: a data manager may only delete a lost device.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# A password reset link works once, within a day.
PASSWORD_RESET_TIMEOUT = 24 * 3600

#: Disclosure control: for users without the identifier permission, a report cohort
#: or group smaller than this is refused or shown as "<N" (README, Security).
REGISTRY_MIN_CELL = env_int("REGISTRY_MIN_CELL", 5, minimum=1)
#: Most rows an XLSX export made through a web page may have: writing a workbook
#: takes about 1.4 s per 10,000 rows here, and a request has 30 s (gunicorn's
#: timeout); a larger one is refused there, and manage.py export_records writes it.
REGISTRY_WEB_XLSX_ROWS = env_int("REGISTRY_WEB_XLSX_ROWS", 150_000, minimum=1)
#: Most rows a CSV or Stata export made through a web page may have: about 12-25 s
#: per 1,500,000 rows (100,000 patients) here; a larger one is refused there, and
#: manage.py export_records writes it.
REGISTRY_WEB_EXPORT_ROWS = env_int("REGISTRY_WEB_EXPORT_ROWS", 1_500_000, minimum=1)

# --- the REST API (registry/api/, README "API") -----------------------------------
#: Requests each API token (or browser session) may make, e.g. "600/minute".
API_RATE = env_rate("REGISTRY_API_RATE", "600/minute")
REST_FRAMEWORK = {
    # A token first, so an anonymous request is answered 401 with the scheme.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "registry.api.tokens.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["registry.api.tokens.TokenRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "registry.api.pagination.Pagination",
    # REST framework's parsers, its JSON one refusing too deep a nesting (400)
    "DEFAULT_PARSER_CLASSES": [
        "registry.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Dates as the forms read them, YYYY-MM-DD, and nothing else: Python's ISO
    # parser also read week dates (2004-W02-6) and 20040110 as dates, in silence
    "DATE_INPUT_FORMATS": ["%Y-%m-%d"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRC registry API",
    "DESCRIPTION": (
        "Patients and their records, outcome reports, the data dictionary and "
        "the import of the colorectal cancer outcomes registry. Authenticate "
        "with `Authorization: Bearer <token>` (make a token on your API tokens "
        "page). Requests are limited per token; over the limit the answer is "
        "429 with Retry-After."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI's files from drf-spectacular-sidecar (static/), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MutationStatusEnum": "registry.choices.MutationStatus",
    },
}
