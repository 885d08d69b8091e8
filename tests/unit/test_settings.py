"""Configuration fails loudly in production and stays convenient in development."""

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def load_settings(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"],
        cwd=BASE_DIR, env={**clean, "DJANGO_SETTINGS_MODULE": "project.settings", **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_production_without_a_secret_key_stops_with_the_variable_named():
    result = load_settings(DEBUG="False")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_with_its_variables_starts():
    result = load_settings(DEBUG="False", SECRET_KEY="x" * 50, DATABASE_URL="postgres://u@db.example:5432/offload")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.postgresql"


def database_settings(module: str, **env) -> dict:
    """The default database's settings as `module` (a process's entry point) leaves them."""
    script = (f"import json, {module}; from django.conf import settings; "
              "print(json.dumps(settings.DATABASES['default'], default=str))")  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE")}
    result = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, capture_output=True, text=True, timeout=60,
                            env={**clean, "DJANGO_SETTINGS_MODULE": "project.settings", **env})  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_postgresql_connections_come_from_a_pool_under_asgi_and_persist_elsewhere():
    url = "postgres://u@db.example:5432/offload"
    served = database_settings("project.asgi", DATABASE_URL=url)
    assert served["OPTIONS"]["pool"]["max_size"] == 10 and served["CONN_MAX_AGE"] == 0
    assert (
        database_settings("project.asgi", DATABASE_URL=url, DATABASE_POOL_SIZE="4")["OPTIONS"]["pool"]["max_size"] == 4
    )
    worker = database_settings("project.celery", DATABASE_URL=url)
    assert "pool" not in worker.get("OPTIONS", {}) and worker["CONN_MAX_AGE"] == 60
    assert "pool" not in database_settings("project.asgi").get("OPTIONS", {})  # SQLite: no pool


def test_development_defaults_to_sqlite_with_settings_that_avoid_lock_errors():
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        options = settings.DATABASES["default"]["OPTIONS"]
        assert "journal_mode=WAL" in options["init_command"]
        assert options["transaction_mode"] == "IMMEDIATE" and options["timeout"] >= 5
    result = load_settings(DEBUG="True")
    assert result.stdout.strip() == "django.db.backends.sqlite3"


def test_celery_is_configured_not_to_lose_work():
    from django.conf import settings

    assert settings.CELERY_RESULT_BACKEND == "django-db"
    assert settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_TASK_TRACK_STARTED and settings.CELERY_RESULT_EXTENDED
    transport = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert transport["visibility_timeout"] > settings.OFFLOAD_REPORT_TIME_LIMIT
    # A dead worker's job is handed back before the lost-job check would give up on it.
    handed_back_within = transport["visibility_timeout"] + transport["unacked_restore_interval"]
    assert handed_back_within < settings.OFFLOAD_LOST_JOB_MINUTES * 60
    assert settings.OFFLOAD_REPORT_SOFT_TIME_LIMIT < settings.OFFLOAD_REPORT_TIME_LIMIT


# Allocates 240 MB through polars (its own allocator), frees it, carries on allocating a little
# for 0.3 s (jemalloc hands pages back as it works, not on a timer of its own), and prints how
# much of it is still resident, in MiB.
HELD_AFTER_FREEING = """
import os, time
from pathlib import Path
{preamble}
import polars as pl

def resident_mib():
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

before = resident_mib()
numbers = pl.int_range(0, 30_000_000, eager=True).cast(pl.Int64)
assert resident_mib() - before > 200
del numbers
until = time.monotonic() + 0.3
while time.monotonic() < until:
    pl.int_range(0, 10_000, eager=True).cast(pl.Int64).sum()
    time.sleep(0.001)
print(resident_mib() - before)
"""


def memory_held_after_freeing(preamble: str, **env) -> float:
    clean = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    result = subprocess.run(
        [sys.executable, "-c", HELD_AFTER_FREEING.format(preamble=preamble)],
        cwd=BASE_DIR, env={**clean, "DJANGO_SETTINGS_MODULE": "project.settings", **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return float(result.stdout)


def test_a_process_of_the_project_hands_back_what_polars_frees_within_a_moment():
    # The worker imports the project (settings, Celery app) before any task module imports polars.
    assert memory_held_after_freeing("import project") < 50
    # Without the project's setting, polars keeps the freed pages resident for a while: this
    # test would see it.
    assert memory_held_after_freeing("") > 200
    # An operator's own setting wins.
    assert memory_held_after_freeing("import project", _RJEM_MALLOC_CONF="dirty_decay_ms:10000") > 200


WORKER_LIBRARIES = ("polars", "numpy", "matplotlib", "fpdf", "xlsxwriter")


def loaded_modules(script: str) -> set[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE")}
    result = subprocess.run(
        [sys.executable, "-c", f"{script}\nimport sys; print(' '.join(sys.modules))"],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=120,
        env={**clean, "DJANGO_SETTINGS_MODULE": "project.settings"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_the_web_process_never_loads_the_data_libraries_the_workers_use():
    # Everything a request can reach: the URLconf, every view, the tasks it enqueues, the forms.
    web = loaded_modules(
        "import django; django.setup()\n"
        "from django.urls import get_resolver; get_resolver().url_patterns\n"
        "import project.asgi, reports.tasks, reports.forms, reports.kinds"
    )
    assert not web & set(WORKER_LIBRARIES)
    # The worker does load them, before it forks its pool (CELERY_IMPORTS).
    worker = loaded_modules("from project.celery import app; app.loader.import_default_modules()")
    assert worker >= set(WORKER_LIBRARIES)


def test_debug_is_off_unless_asked_for_and_make_run_asks(tmp_path):
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG",)}
    script = "from django.conf import settings; print(settings.DEBUG)"
    for env, expected in (({"SECRET_KEY": "x" * 50}, "False"), ({"DEBUG": "True"}, "True")):
        result = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, capture_output=True, text=True,
                                timeout=60, env={**clean, "DJANGO_SETTINGS_MODULE": "project.settings", **env})  # fmt: skip
        assert result.stdout.strip() == expected, result.stderr
    from project.launcher import development_defaults

    nothing, says_off = tmp_path / "none.env", tmp_path / "off.env"
    says_off.write_text("SECRET_KEY=x\nDEBUG=False\n")
    environment = {}
    development_defaults(environment, nothing)
    assert environment["DEBUG"] == "True"  # make run turns it on...
    environment = {}
    development_defaults(environment, says_off)
    assert "DEBUG" not in environment  # ...unless .env decides (the settings read it)
    environment = {"DEBUG": "False"}
    development_defaults(environment, nothing)
    assert environment["DEBUG"] == "False"  # ...or the environment does
