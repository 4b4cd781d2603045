"""
Settings of the server, read from environment variables only.

Every variable is documented in the README with its default. The defaults suit a developer's
machine; production settings (``DEBUG`` off) refuse to start with the default secret key.
"""

import json
import os
from pathlib import Path

import dj_database_url
import dj_email_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

TRUE_VALUES = {"1", "true", "yes", "on"}


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in TRUE_VALUES


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name, default):
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as e:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from e


DEBUG = env_bool("DEBUG", False)

DEFAULT_SECRET_KEY = "insecure-development-key-change-me"
SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY and not env_bool("ARKINDEX_ALLOW_DEFAULT_SECRET_KEY"):
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Production settings (DEBUG off) refuse the default secret key: "
        "set SECRET_KEY to a long random value, or set DEBUG=true for local development."
    )

PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://localhost:8000").rstrip("/")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", PUBLIC_URL)

CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_ALLOW_CREDENTIALS = True
CORS_URLS_REGEX = r"^/api/.*$"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/arkindex"),
        # Connections outlive requests (checked before reuse): opening one costs more than most
        # requests, and the statements tasks run on every element are prepared once per connection
        # (`arkindex.prepared`).
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", True),
    )
}
# Behind a transaction-pooling PgBouncer: no server-side cursors, which belong to a session the
# pooler does not keep. Protocol-level prepared statements follow (PgBouncer 1.21+ with
# `max_prepared_statements`); DATABASE_PREPARED_STATEMENTS=false for a pooler that cannot.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("DATABASE_TRANSACTION_POOLING", False)
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
# Django's cursors bind on the client and never prepare; the threshold lets psycopg prepare what
# `arkindex.prepared` runs (None turns preparing off on the connection).
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5 if DATABASE_PREPARED_STATEMENTS else None
# While a query runs, PostgreSQL checks this often that its client is still connected: the statement
# of a killed job worker stops within seconds instead of running on with its locks (PostgreSQL 14+).
# Sent as a startup option, which a PgBouncer refuses unless told to ignore it: 0 sends nothing.
DATABASE_CLIENT_CHECK_INTERVAL = env_int("DATABASE_CLIENT_CHECK_INTERVAL", 2)
if DATABASE_CLIENT_CHECK_INTERVAL:
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c client_connection_check_interval={DATABASE_CLIENT_CHECK_INTERVAL * 1000}"
    )
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point to a PostgreSQL database (postgres://…)")

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# The cache every API process and host shares: throttles (the login limit) count across all of them.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("CACHE_URL") or REDIS_URL,
        "KEY_PREFIX": "arkindex-cache",
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "corsheaders",
    "arkindex",
    "users",
    "documents",
    "workers",
    "processes",
    "ponos",
    "datasets",
    "console",
]

# The console's pages (`console`) sign people in with a session; the API also takes tokens.
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:processes"
LOGOUT_REDIRECT_URL = "console:login"

MIDDLEWARE = [
    "arkindex.middleware.RequestHygieneMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # DRF's views are exempt from it and check CSRF themselves for sessions; `check --deploy` looks
    # for this very middleware.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The API does without flash messages (arkindex.middleware).
    "arkindex.middleware.PagesOnlyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "arkindex.urls"
WSGI_APPLICATION = "arkindex.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

AUTH_USER_MODEL = "users.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"

# Storage: a local folder by default, any S3-compatible service when AWS_STORAGE_BUCKET_NAME is set.
# Upload and download links (signed by us or by S3) stay valid this many seconds.
STORAGE_URL_EXPIRY = env_int("STORAGE_URL_EXPIRY", 3600)
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL")
    AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME")
    AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 3600)
    # Presigned URLs signed with Signature Version 4, which S3-compatible services accept (version 2 is deprecated).
    AWS_S3_SIGNATURE_VERSION = os.environ.get("AWS_S3_SIGNATURE_VERSION", "s3v4")
    default_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

email_config = dj_email_url.parse(os.environ.get("EMAIL_URL", "console://"))
EMAIL_BACKEND = email_config["EMAIL_BACKEND"]
EMAIL_HOST = email_config["EMAIL_HOST"]
EMAIL_PORT = email_config["EMAIL_PORT"]
EMAIL_HOST_USER = email_config["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = email_config["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = email_config["EMAIL_USE_TLS"]
EMAIL_USE_SSL = email_config["EMAIL_USE_SSL"]
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "arkindex@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "users.authentication.TokenAuthentication",
        "ponos.authentication.TaskAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_RENDERER_CLASSES": ["arkindex.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["arkindex.api.parsers.JSONParser"],
    "DEFAULT_METADATA_CLASS": "arkindex.api.metadata.ArkindexMetadata",
    "DEFAULT_PAGINATION_CLASS": "arkindex.api.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "arkindex.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "arkindex.api.exceptions.exception_handler",
    "PAGE_SIZE": 20,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Arkindex API",
    "DESCRIPTION": "Machine-learning workers over digitised documents, with the provenance of every result.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PUBLIC": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    # Several objects have a `state` with their own values: each gets an enum named after its object.
    "ENUM_NAME_OVERRIDES": {
        "ModelVersionStateEnum": "workers.models.ModelVersionState",
        "WorkerVersionStateEnum": "workers.models.WorkerVersionState",
        "FeatureUsageEnum": "workers.models.FeatureUsage",
        # Processes and tasks share their states.
        "StateEnum": "ponos.models.TaskState",
        "DatasetStateEnum": "datasets.models.DatasetState",
        "ClassificationStateEnum": "documents.models.ClassificationState",
        "CredentialsStatusEnum": "ponos.api.repository_serializers.CREDENTIALS_STATUS_CHOICES",
        # Images and data files share their check states.
        "StatusEnum": "documents.models.ImageStatus",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "arkindex.api.schema.postprocess_arkindex_schema",
    ],
}

# Seconds after a successful export of a corpus (or dataset) during which StartExport answers with that
# export instead of building another (0: no delay).
EXPORT_DELAY = env_int("EXPORT_DELAY", 6 * 3600)

# What `cleanup` keeps: exports, and the logs and artifacts of ended processes, younger than this many days.
CLEANUP_RETENTION_DAYS = env_int("CLEANUP_RETENTION_DAYS", 30)

# Page sizes
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 500)
# Request bodies: larger ones are refused with a 413, JSON nested deeper with a 400 (arkindex.api.parsers).
API_MAX_BODY_SIZE = env_int("API_MAX_BODY_SIZE", 10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_SIZE
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 32)
# Processes: a worker run splits its elements into at most this many parallel tasks.
MAX_CHUNKS = env_int("MAX_CHUNKS", 20)

# Background jobs: every queue lives on the same Redis; their names come from arkindex.rq.
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": env_int("RQ_DEFAULT_TIMEOUT", 3600)}
    for name in ("default", "high", "low")
}
RQ_SHOW_ADMIN_LINK = True
# Jobs are put on their queue when asked: the project itself waits for the commit where it must
# (`arkindex.rq.enqueue_on_commit`, `arkindex.jobs.enqueue_job`).
RQ = {"COMMIT_MODE": "auto"}
# Attempts of a background job (see arkindex.jobs) before it is failed for good.
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3)
# Times a worker activity may be lost with its task (the task ended while holding it) before the
# element ends in error instead of going back to the queue.
ACTIVITY_MAX_ATTEMPTS = env_int("ACTIVITY_MAX_ATTEMPTS", 3)

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if not DEBUG else "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "arkindex.logging.JSONFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "rq.worker": {"level": LOG_LEVEL},
    },
}

# Production hardening: whenever DEBUG is off and the public URL is served over HTTPS (behind a
# TLS-terminating proxy, SECURE_PROXY_SSL_HEADER tells Django the original scheme).
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG and PUBLIC_URL.startswith("https://"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # The health check is probed over plain HTTP from inside the private network.
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$"]
CSRF_COOKIE_NAME = "arkindex.csrf"
SESSION_COOKIE_NAME = "arkindex.auth"

# Ponos, the task scheduler and its agents.
# The first task of a workers process: it lists the process's elements into `elements.json` (or
# `elements_<chunk>.json`) in its own data folder, for the worker tasks below it. An empty image runs
# the command as is (local executor).
PONOS_INITIALISATION_COMMAND = os.environ.get("PONOS_INITIALISATION_COMMAND", "arkindex-process-init")
PONOS_INITIALISATION_IMAGE = os.environ.get("PONOS_INITIALISATION_IMAGE", "")
# The single task of a repository process: it clones one revision of a Git repository and imports the
# workers its `.arkindex.yml` declares (ponos/tasks/repository_import.py). It needs `git` where it runs.
PONOS_REPOSITORY_IMPORT_COMMAND = os.environ.get("PONOS_REPOSITORY_IMPORT_COMMAND", "arkindex-repository-import")
PONOS_REPOSITORY_IMPORT_IMAGE = os.environ.get("PONOS_REPOSITORY_IMPORT_IMAGE", "")
# The single task of a file import (modes files and iiif): it downloads the process's data files and
# creates pages on the IIIF images they list, through the API (ponos/tasks/file_import.py).
PONOS_FILE_IMPORT_COMMAND = os.environ.get("PONOS_FILE_IMPORT_COMMAND", "arkindex-file-import")
PONOS_FILE_IMPORT_IMAGE = os.environ.get("PONOS_FILE_IMPORT_IMAGE", "")
# How long the server waits for a IIIF server's `info.json` when registering or checking an image.
IIIF_INFO_TIMEOUT = env_int("IIIF_INFO_TIMEOUT", 15)
# Whether repositories may be `file://` URLs, folders on the agents' hosts: for development and tests only.
REPOSITORIES_ALLOW_FILE_URLS = env_bool("REPOSITORIES_ALLOW_FILE_URLS", False)
# URL of this API as the tasks reach it (from inside a container, the host's address may differ).
# Successful StartWorkerActivity and UpdateWorkerActivity calls of tasks answered in one prepared
# statement, without DRF's dispatch (see ponos.api.activity_views); errors are the API views' either way.
ACTIVITY_FAST_PATH = env_bool("ACTIVITY_FAST_PATH", True)

PONOS_API_URL = os.environ.get("PONOS_API_URL", PUBLIC_URL).rstrip("/")
# Where agents create the data folders of the tasks they run.
PONOS_DATA_DIR = os.environ.get("PONOS_DATA_DIR") or None
# A task running longer than this many seconds is stopped and ends in error.
PONOS_TASK_TIME_LIMIT = env_int("PONOS_TASK_TIME_LIMIT", 24 * 3600)
# Bytes of log kept per task attempt; beyond it only the end of the log is kept.
PONOS_LOG_MAX_SIZE = env_int("PONOS_LOG_MAX_SIZE", 10 * 1024 * 1024)
# Seconds between two copies of a running task's log to the storage.
PONOS_LOG_FLUSH_INTERVAL = env_int("PONOS_LOG_FLUSH_INTERVAL", 5)
# Agents ping every PONOS_AGENT_PING_INTERVAL seconds; one silent for PONOS_AGENT_TIMEOUT seconds is dead.
PONOS_AGENT_PING_INTERVAL = env_int("PONOS_AGENT_PING_INTERVAL", 10)
PONOS_AGENT_TIMEOUT = env_int("PONOS_AGENT_TIMEOUT", 60)
PONOS_AGENT_LOG_LEVEL = os.environ.get("PONOS_AGENT_LOG_LEVEL", "INFO")
# Seconds between two runs of the periodic scheduling job (`manage.py ponos_scheduler`).
PONOS_SCHEDULER_INTERVAL = env_int("PONOS_SCHEDULER_INTERVAL", 30)
# Seconds RQ keeps a failed task job, for the scheduler to end its task in error.
PONOS_FAILED_JOB_TTL = env_int("PONOS_FAILED_JOB_TTL", 7 * 24 * 3600)
# Docker executor: credentials of every registry images come from, as JSON
# {"registry.example.com": {"username": "…", "password": "…"}}, and the network of the containers.
PONOS_DOCKER_REGISTRIES = json.loads(os.environ.get("PONOS_DOCKER_REGISTRIES") or "{}")
PONOS_DOCKER_NETWORK = os.environ.get("PONOS_DOCKER_NETWORK") or None
# Where people browse processes: the end-of-process emails link to `<FRONTEND_URL>/process/<id>`.
FRONTEND_URL = os.environ.get("FRONTEND_URL", PUBLIC_URL).rstrip("/")

# Where the embedded services of the quickstart keep their data.
ARKINDEX_DATA_DIR = Path(os.environ.get("ARKINDEX_DATA_DIR", BASE_DIR / "data"))

# Optional features, reported to the clients by RetrieveUser (also to anonymous callers, in its 401).
# `search`: SearchCorpus answers, on PostgreSQL's full-text search, for the corpora marked indexable.
ARKINDEX_FEATURES = {
    "oidc": False,
    "signup": False,
    "search": True,
}

# Key sealing the Ponos secrets at rest (AES-256-GCM with a key derived by HKDF, see ponos/secret_store.py).
# It defaults to SECRET_KEY: set it on its own so that rotating SECRET_KEY does not make every stored
# secret unreadable (changing SECRETS_KEY itself means setting every secret again).
SECRETS_KEY = os.environ.get("SECRETS_KEY") or SECRET_KEY
