"""Offload settings: one module, every difference between machines comes from the environment.

`.env` (optional, next to manage.py) is read first; `.env.example` documents every variable.
"""

import ipaddress
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

# Runtime data: the SQLite database, uploads, job outputs, the private Redis's files.
VAR_DIR = BASE_DIR / env.str("OFFLOAD_VAR_DIR", default="var")  # relative to the project, or absolute
# SQLite cannot create the folder its file goes in; a fresh clone has no var/ yet.
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Off unless asked for: a deployment that forgets it gets no debug pages. `make run` and
# .env.example turn it on for development.
DEBUG = env.bool("DEBUG", default=False)


def required_in_production(name: str, dev_default):
    """Read a variable that has a harmless default in DEBUG and must be set in production."""
    value = env(name, default=None)
    if value is None:
        if not DEBUG:
            raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (see .env.example).")
        return dev_default
    return value


SECRET_KEY = required_in_production("SECRET_KEY", "django-insecure-offload-development-only")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_celery_results",
    "django_celery_beat",
    "csp",
    "axes",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After auth and htmx, before any view or check reads a body: a signed-out person's large
    # one is answered with the way to sign in, unread.
    "reports.body_limit.signed_out_body_limit",
    "csp.middleware.CSPMiddleware",
    "reports.middleware.private_pages",
    # Last, as django-axes asks: it turns a lockout into the locked-out page.
    "axes.middleware.AxesMiddleware",
]

if not DEBUG:  # runserver serves static files in development
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        # template_partials wraps the loaders itself (it needs APP_DIRS unset to do so).
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite under var/ by default; DATABASE_URL=postgres://… for production and scale-out.
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'offload.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write to one file: WAL lets readers and a writer overlap, IMMEDIATE
    # takes the write lock up front (no lock upgrade deadlocks) and the timeout waits it out,
    # so no process sees "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # A file, not :memory:, so the Celery worker the integration tests start can open it too.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-offload.sqlite3")}
elif env.bool("DATABASE_POOL", default=False):
    # PostgreSQL under ASGI (project/asgi.py turns this on): every request runs in a context of
    # its own there, so a persistent connection is never reused and lingers until garbage-
    # collected (one uvicorn process held 78 after 6 s of polls, and PostgreSQL allows 100 by
    # default); Django's pool (psycopg_pool) lends each request one and takes it back.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them open instead
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # the pool checks one before lending it
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env.int("DATABASE_POOL_SIZE", default=10),
        "timeout": 10,  # a request that waits longer for a connection fails (500) instead of hanging
    }
else:
    # PostgreSQL elsewhere (WSGI, beat, manage.py): a connection lives for a minute. Celery closes
    # a worker's after every task whatever this says (a task stopped mid-query can leave it broken).
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Email ------------------------------------------------------------------------------------
# "Email me when it has finished". EMAIL_URL as django-environ reads it, e.g.
# smtp+tls://user:password@smtp.example.com:587; by default mail is printed by the worker.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)  # django-environ's documented way to set EMAIL_BACKEND, EMAIL_HOST, ...
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Offload <offload@localhost>")
# The mailing kind (reports/job_kinds/mailing.py): messages a second (0: as fast as the server
# takes them), the most recipients in one mailing, and the footer under every message.
OFFLOAD_MAILING_RATE = env.float("OFFLOAD_MAILING_RATE", default=10)
OFFLOAD_MAILING_MAX_RECIPIENTS = env.int("OFFLOAD_MAILING_MAX_RECIPIENTS", default=10_000)
OFFLOAD_MAILING_FOOTER = env.str(
    "OFFLOAD_MAILING_FOOTER",
    default="You are receiving this because your address is on a list given to the sender. "
    "To receive no more, reply with the word unsubscribe.",
)
# Which htmx the pages load: 4 (4.0.x from static/vendor, by `make vendor`) or 2 (django-htmx's
# bundled 2.x). The templates are written the htmx 4 way; reports/htmx.py gives htmx 2 its spelling.
# The whole suite passes on both (CI runs the browser tests on each); README "htmx 4 and 2" says why 4.
OFFLOAD_HTMX = env.int("OFFLOAD_HTMX", default=4)
# Links in emails point here (there is no request to take the host from in a worker).
OFFLOAD_SITE_URL = env.str("OFFLOAD_SITE_URL", default="http://127.0.0.1:8000")

# --- Files ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
# Uploads and job outputs. Never served as public URLs: downloads go through an owner-checked view.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
# An S3-compatible object store (AWS S3, MinIO, R2, Ceph) instead of MEDIA_ROOT, through
# django-storages under its own variable names: naming a bucket turns it on. Web and worker
# machines then share nothing on disk. Offload never creates the bucket (it checks at start-up).
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
OBJECT_STORE = bool(AWS_STORAGE_BUCKET_NAME)
if OBJECT_STORE:
    from project.object_store import client_config, transfer_config

    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default=None)  # unset: AWS itself
    # Unset: boto3's own chain (an instance role, ~/.aws) finds the credentials.
    AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default=None)
    AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default=None)
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default=None)
    AWS_S3_CLIENT_CONFIG = client_config()
    AWS_S3_TRANSFER_CONFIG = transfer_config()
AWS_DEFAULT_ACL = None  # objects stay private: every download goes through an owner check
# django-storages reads a whole object into memory when opened (0: never spill to disk); our
# own reads stream (reports/engine/files.py), and any other spills to a temporary file past 8 MiB.
AWS_S3_MAX_MEMORY_SIZE = 8 * 1024 * 1024
STORAGES = {
    "default": {
        "BACKEND": "project.object_store.ObjectStorage"
        if OBJECT_STORE
        else "django.core.files.storage.FileSystemStorage"
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# The built-in demo data set for the sales summary (generated on first use).
OFFLOAD_DEMO_DATA_DIR = Path(env.str("OFFLOAD_DEMO_DATA_DIR", default=str(VAR_DIR / "demo-data")))
OFFLOAD_DEMO_ORDERS = env.int("OFFLOAD_DEMO_ORDERS", default=500_000)
# The demo shop's last day of orders (YYYY-MM-DD); empty: yesterday, moving with the calendar.
OFFLOAD_DEMO_LAST_DAY = env.str("OFFLOAD_DEMO_LAST_DAY", default="")

# Uploads larger than this are refused in the form (megabytes).
# Largest CSV upload: the profile streams the file, so its size is bounded by disk, not memory.
OFFLOAD_MAX_UPLOAD_MB = env.int("OFFLOAD_MAX_UPLOAD_MB", default=2048)
# Most columns a CSV profile takes: each is a card on the page (20,000 made a 34 MB page).
OFFLOAD_MAX_CSV_COLUMNS = env.int("OFFLOAD_MAX_CSV_COLUMNS", default=1000)
# Image batches: how many files, how large each (megabytes), and how many pixels an image may
# decode to (a small file can hold a huge image: a "decompression bomb").
OFFLOAD_MAX_IMAGES = env.int("OFFLOAD_MAX_IMAGES", default=50)
OFFLOAD_MAX_IMAGE_MB = env.int("OFFLOAD_MAX_IMAGE_MB", default=40)
OFFLOAD_MAX_IMAGE_PIXELS = env.int("OFFLOAD_MAX_IMAGE_PIXELS", default=100_000_000)
# How many queued or running jobs one person may have at once (0: no limit).
OFFLOAD_MAX_ACTIVE_JOBS = env.int("OFFLOAD_MAX_ACTIVE_JOBS", default=3)
# Schedules one person may have, and the shortest time between two runs of one (a crontab).
OFFLOAD_MAX_SCHEDULES = env.int("OFFLOAD_MAX_SCHEDULES", default=20)
OFFLOAD_MIN_SCHEDULE_MINUTES = env.int("OFFLOAD_MIN_SCHEDULE_MINUTES", default=15)
# The largest request body a signed-out person may send (the sign-in form is well under 1 KB):
# a larger one is answered with the sign-in page before it is read (reports/body_limit.py).
OFFLOAD_SIGNED_OUT_MAX_BODY_KB = env.int("OFFLOAD_SIGNED_OUT_MAX_BODY_KB", default=64)
# Let big files reach the form's own size check instead of Django's generic 400 page.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Well above OFFLOAD_MAX_IMAGES, so the form (not a bare 400 page) tells people the limit.
DATA_UPLOAD_MAX_NUMBER_FILES = 1000

# --- Security -------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# Served over HTTPS in production: redirect plain HTTP, and tell browsers to insist on HTTPS
# (HSTS). Behind a proxy that terminates TLS, it must set X-Forwarded-Proto.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# Preloading is a promise to browsers that is slow to undo (every subdomain, HTTPS for good), so
# it is opted into, not assumed; until then its deploy-check reminder is silenced.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy (django-csp): every script is a file from our own origin (htmx from
# django-htmx's static files), never inline, never eval. Progress bars set their width in a
# style attribute, which style-src-attr allows; <style> elements are still refused.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Password guessing (django-axes): 5 wrong passwords for one username from one address lock that
# pair out for 15 minutes; a right password resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# ...and however many usernames one address tries, this many wrong passwords within the cool-off
# pause signing in from it (reports/signin.py): password spraying.
OFFLOAD_SIGNIN_FAILURES_PER_ADDRESS = env.int("OFFLOAD_SIGNIN_FAILURES_PER_ADDRESS", default=20)
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

# Reports get their own queue so later kinds of work (images) never block them. Listing the
# queues here makes a plain `celery -A project worker` consume all of them.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = {"default": {}, "reports": {}, "images": {}}
CELERY_TASK_ROUTES = {
    "reports.tasks.run_report": {"queue": "reports"},
    "reports.tasks.start_image_batch": {"queue": "images"},
    "reports.tasks.process_image": {"queue": "images"},
    "reports.tasks.finish_image_batch": {"queue": "images"},
}
# A worker loads the report code and its data libraries (polars, NumPy, matplotlib) at start,
# before it forks its pool; the web process never imports them (the kinds name their work by dotted path, reports/kinds.py).
CELERY_IMPORTS = ["reports.work.runs"]

# Work is not lost: a task is acknowledged only once it has finished, a worker that dies hands
# its task back, and a worker holds one task at a time beyond the one it runs.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Progress is written at most this often (seconds); a new step sentence is always written.
OFFLOAD_PROGRESS_INTERVAL = env.float("OFFLOAD_PROGRESS_INTERVAL", default=0.5)
OFFLOAD_REPORT_SOFT_TIME_LIMIT = env.int("OFFLOAD_REPORT_SOFT_TIME_LIMIT", default=600)
OFFLOAD_REPORT_TIME_LIMIT = env.int("OFFLOAD_REPORT_TIME_LIMIT", default=660)
OFFLOAD_IMAGE_SOFT_TIME_LIMIT = env.int("OFFLOAD_IMAGE_SOFT_TIME_LIMIT", default=120)
OFFLOAD_IMAGE_TIME_LIMIT = env.int("OFFLOAD_IMAGE_TIME_LIMIT", default=150)
# A report that hits a temporary problem (database, storage) is tried this many times in all,
# waiting OFFLOAD_RETRY_BACKOFF seconds, then twice that, and so on.
OFFLOAD_JOB_ATTEMPTS = env.int("OFFLOAD_JOB_ATTEMPTS", default=3)
OFFLOAD_RETRY_BACKOFF = env.float("OFFLOAD_RETRY_BACKOFF", default=5)
# A job whose worker died mid-run is handed back and started again at most this many times; a
# job that kills its worker every time (out of memory, a crash in a C library) then fails.
OFFLOAD_MAX_RESTARTS = env.int("OFFLOAD_MAX_RESTARTS", default=2)
# A running report holds a lease on Redis for this many seconds, renewed by its worker every third
# of it; beat looks every OFFLOAD_RESCUE_CHECK_SECONDS for jobs whose lease lapsed (their worker
# died) and queues them again as their next attempt (reports/engine/leases.py). Kill to running again:
# at most the two added, plus a worker's pickup.
OFFLOAD_LEASE_SECONDS = env.float("OFFLOAD_LEASE_SECONDS", default=20)
OFFLOAD_RESCUE_CHECK_SECONDS = env.float("OFFLOAD_RESCUE_CHECK_SECONDS", default=10)
# The last resort, for a job that neither finishes nor can be rescued: a running job with no
# progress for this long has lost its worker; beat fails it.
OFFLOAD_LOST_JOB_MINUTES = env.float("OFFLOAD_LOST_JOB_MINUTES", default=30)
# How often beat looks for lost jobs.
OFFLOAD_LOST_JOB_CHECK_SECONDS = env.float("OFFLOAD_LOST_JOB_CHECK_SECONDS", default=60)
# Finished jobs, their files and their task results are deleted after this many days.
OFFLOAD_RETENTION_DAYS = env.int("OFFLOAD_RETENTION_DAYS", default=30)
CELERY_RESULT_EXPIRES = timedelta(days=OFFLOAD_RETENTION_DAYS)
# Queue depth is sampled every minute for the Operations page; samples are kept this many days.
OFFLOAD_QUEUE_SAMPLE_DAYS = env.int("OFFLOAD_QUEUE_SAMPLE_DAYS", default=8)
# Housekeeping on beat. The DatabaseScheduler copies these into its tables at start, so they
# show (and can be paused) in the admin beside the users' own schedules.
CELERY_BEAT_SCHEDULE = {
    "offload: rescue jobs": {"task": "reports.tasks.rescue_jobs", "schedule": OFFLOAD_RESCUE_CHECK_SECONDS},
    "offload: fail lost jobs": {"task": "reports.tasks.fail_lost_jobs", "schedule": OFFLOAD_LOST_JOB_CHECK_SECONDS},
    "offload: delete old jobs": {"task": "reports.tasks.delete_old_jobs", "schedule": crontab(hour=3, minute=30)},
    "offload: sample queues": {"task": "reports.tasks.sample_queues", "schedule": 60.0},
    "offload: roll up job hours": {"task": "reports.tasks.roll_up_job_hours", "schedule": 300.0},
    # Celery's own: deletes expired rows from django-celery-results' table.
    "celery.backend_cleanup": {"task": "celery.backend_cleanup", "schedule": crontab(hour=4, minute=0)},
}
# A task whose worker died (SIGKILL, a lost machine) stays unacknowledged in Redis; after the
# visibility timeout a worker hands it back to the queue and the job starts again. The timeout
# must outlast the longest hard time limit, or a long report would run twice; the lost-job
# check (OFFLOAD_LOST_JOB_MINUTES) must wait longer still, so a job is redelivered before it
# would be given up. Workers sweep for such tasks every OFFLOAD_RESTORE_INTERVAL seconds (kombu
# would otherwise scan only every tenth sweep, about every 100 s).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("OFFLOAD_VISIBILITY_TIMEOUT", default=2 * OFFLOAD_REPORT_TIME_LIMIT),
    "unacked_restore_interval": env.int("OFFLOAD_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": 1,
    "socket_connect_timeout": 3,
    # Workers and beat: a Redis that hangs (a frozen process, a network partition) accepts
    # connections and never answers; without a timeout an ack or a publish would wait for ever.
    # Ten seconds outlasts a Redis pausing for a save or a slow disk.
    "socket_timeout": 10,
}
# The web process gives up sooner: a click must not wait 10 s per try on a hung Redis (it held a
# Generate for 41.6 s). Redis answers a publish in well under a millisecond, so a second of silence
# means it has hung. Applied where the web application is made (project/asgi.py, wsgi.py).
OFFLOAD_WEB_BROKER_SOCKET_TIMEOUT = env.float("OFFLOAD_WEB_BROKER_SOCKET_TIMEOUT", default=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A click must not hang when Redis is down or hung: a publish retries once (a connection that
# went stale in a Redis restart), then the user is told. Hung, that is four web socket timeouts.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}

# --- Live progress pushed to the page ------------------------------------------------------
# Under an ASGI server (uvicorn: `make run` and production) a job page opens a server-sent event
# stream and the fragment is pushed the moment the job changes; under WSGI (runserver, gunicorn)
# or when a stream cannot open, the page polls as before. Off: every page polls.
OFFLOAD_STREAMS = env.bool("OFFLOAD_STREAMS", default=True)
# Open streams one person may hold (each is a connection; browsers allow six per site over
# HTTP/1.1) and one web process may hold; past either, the page polls instead.
OFFLOAD_STREAMS_PER_USER = env.int("OFFLOAD_STREAMS_PER_USER", default=4)
OFFLOAD_STREAMS_PER_PROCESS = env.int("OFFLOAD_STREAMS_PER_PROCESS", default=1000)
# An idle stream sends a heartbeat this often (seconds), and re-checks its session and job then.
OFFLOAD_STREAM_HEARTBEAT = env.float("OFFLOAD_STREAM_HEARTBEAT", default=15)
# A stream is closed after this long (seconds) and the browser opens a fresh one at once: no
# connection is held for ever, and a long-open page re-checks its access now and then.
OFFLOAD_STREAM_MAX_SECONDS = env.float("OFFLOAD_STREAM_MAX_SECONDS", default=600)
# Where "job changed" events are published (Redis pub/sub). Empty: the broker's Redis.
OFFLOAD_EVENTS_REDIS_URL = env.str("OFFLOAD_EVENTS_REDIS_URL", default="")

# --- Metrics for Prometheus -----------------------------------------------------------------
# /metrics (reports/operations/metrics.py) answers a scraper that sends `Authorization: Bearer <token>`, or
# one whose address is in the allow list (addresses or networks). With neither set it is off: 404.
OFFLOAD_METRICS_TOKEN = env.str("OFFLOAD_METRICS_TOKEN", default="")
OFFLOAD_METRICS_ALLOW = [entry.strip() for entry in env.list("OFFLOAD_METRICS_ALLOW", default=[])]
for _entry in OFFLOAD_METRICS_ALLOW:
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"OFFLOAD_METRICS_ALLOW: {_entry!r} is not an address or a network.") from None

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # fpdf2 subsets fonts through fontTools, which logs every table at INFO.
        "fontTools": {"level": "WARNING"},
    },
}
