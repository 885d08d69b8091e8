"""Fixtures for every test: a real Redis as the broker, a real worker, throwaway storage, users."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from project import celery_app
from project.embedded_redis import EmbeddedRedis
from tests.s3_server import S3Server
from tests.support import wait_for

BASE_DIR = Path(__file__).resolve().parents[1]
PINNED_LAST_DAY = "2025-12-31"


@pytest.fixture(scope="session", autouse=True)
def broker(tmp_path_factory):
    """A private Redis server for the whole run; the app publishes to it, workers consume from it."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    celery_app.conf.broker_url = server.url
    yield server
    server.stop()


@pytest.fixture
def empty_broker(broker):
    """For tests that leave messages on the broker (actions that queue tasks no worker here takes)."""
    yield
    redis.Redis.from_url(broker.url).flushdb()


@pytest.fixture(scope="session", autouse=True)
def isolated_files(tmp_path_factory):
    """Uploads, outputs and the demo data go to a temporary folder, never var/."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    settings.OFFLOAD_DEMO_DATA_DIR = tmp_path_factory.mktemp("demo-data")
    # The demo shop's calendar stands still, so dates and figures in tests never move.
    settings.OFFLOAD_DEMO_LAST_DAY = PINNED_LAST_DAY


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3-compatible server process (moto), for the object-store tests."""
    server = S3Server(tmp_path_factory.mktemp("s3") / "moto.log").start()
    yield server
    server.stop()


@pytest.fixture
def object_store(s3_server, settings):
    """This process configured, as an operator would configure it, to keep its files in a fresh
    bucket on the S3 server; yields the bucket's name. The storage is Offload's own subclass of
    django-storages' S3 backend, talking HTTP to the server."""
    from project import object_store

    bucket = s3_server.new_bucket()
    environment = s3_server.environment(bucket)
    settings.OBJECT_STORE = True
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = environment["AWS_S3_ENDPOINT_URL"]
    settings.AWS_S3_REGION_NAME = environment["AWS_S3_REGION_NAME"]
    settings.AWS_ACCESS_KEY_ID = environment["AWS_ACCESS_KEY_ID"]
    settings.AWS_SECRET_ACCESS_KEY = environment["AWS_SECRET_ACCESS_KEY"]
    settings.AWS_S3_CLIENT_CONFIG = object_store.client_config()
    settings.AWS_S3_TRANSFER_CONFIG = object_store.transfer_config()
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "project.object_store.ObjectStorage"}}
    yield bucket


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("ada", password="correct horse battery")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("grace", password="another long password")


@pytest.fixture
def owner_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def other_client(client, other_user):
    client.force_login(other_user)
    return client


def database_url() -> str:
    """The URL of the test database pytest-django created, for processes outside this one."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def app_environment(broker_url: str) -> dict:
    """What a worker or server process needs to share this test run's broker, database and files."""
    return {
        **os.environ,
        "CELERY_BROKER_REDIS_URL": broker_url,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "OFFLOAD_DEMO_DATA_DIR": str(settings.OFFLOAD_DEMO_DATA_DIR),
        "OFFLOAD_DEMO_LAST_DAY": settings.OFFLOAD_DEMO_LAST_DAY,
        "PYTHONUNBUFFERED": "1",
    }


def start_worker(
    broker_url: str,
    log_path: Path,
    name: str = "test-worker",
    concurrency: int = 2,
    app: str = "tests.fault_injection",
    cwd: Path = BASE_DIR,
    queues: str = "",
    **settings,
):
    """A real worker (prefork) on the project's app through `app`: by default tests.fault_injection,
    which lets a job ask for a fault through its parameters. `settings` become environment variables.

    It gets a session of its own, so a test can kill the whole worker (main and pool processes).
    """
    environment = app_environment(broker_url)
    environment |= {key: str(value) for key, value in settings.items()}
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, "worker", "-l", "info",
             "-c", str(concurrency), "--without-mingle", "--without-gossip", "-n", f"{name}@%h",
             *(["-Q", queues] if queues else [])],
            cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    worker.log_path = log_path
    wait_for(lambda: " ready." in log_path.read_text() or worker.poll() is not None, 60, f"worker {name} to start")
    if worker.poll() is not None:
        raise RuntimeError(f"The Celery worker exited early:\n{log_path.read_text()}")
    return worker


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL to its whole session if it has not gone within `timeout`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def start_asgi_server(
    broker_url: str, log_path: Path, cwd: Path = BASE_DIR, *, options: tuple[str, ...] = (), **settings
) -> subprocess.Popen:
    """uvicorn serving project.asgi as `make run` does (DEBUG on: it serves the static files too),
    on a free port; `server.url` is its address. `options` go to uvicorn's command line,
    `settings` become environment variables."""
    from project.embedded_redis import free_port

    port = free_port()
    environment = {
        **app_environment(broker_url),
        "DEBUG": "true",
        **{key: str(value) for key, value in settings.items()},
    }
    with open(log_path, "a") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "project.asgi:application", "--host", "127.0.0.1", "--port", str(port), *options],
            cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    wait_for(lambda: "Uvicorn running" in log_path.read_text() or server.poll() is not None, 60, "uvicorn to start")
    if server.poll() is not None:
        raise RuntimeError(f"uvicorn exited early:\n{log_path.read_text()}")
    server.url, server.log_path = f"http://127.0.0.1:{port}", log_path
    return server


@pytest.fixture(scope="session")
def asgi_server(broker, django_db_setup, tmp_path_factory):
    """The suite's ASGI web server (uvicorn), with streams; heartbeats every second, so tests
    that wait on one do not wait long."""
    server = start_asgi_server(broker.url, tmp_path_factory.mktemp("asgi") / "uvicorn.log", OFFLOAD_STREAM_HEARTBEAT=1)
    yield server
    stop_process(server)


@pytest.fixture(scope="session")
def celery_worker_process(broker, django_db_setup, django_db_blocker, tmp_path_factory):
    """The shared worker of the suite; retries a second apart, not five, so retry tests do not wait."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = start_worker(broker.url, log_path, OFFLOAD_RETRY_BACKOFF=0.5)
    yield worker
    stop_process(worker)


@pytest.fixture
def workers(own_redis, tmp_path):
    """Start workers on the test module's own Redis (its `own_redis` fixture); every one is
    stopped (or killed) at the end."""
    started = []

    def start(name="w1", queues="", **settings):
        worker = start_worker(own_redis.url, tmp_path / f"{name}.log", name=name, queues=queues, **settings)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        stop_process(worker)


def start_beat(broker_url: str, log_path: Path, *options: str, cwd: Path = BASE_DIR, **settings) -> subprocess.Popen:
    """A real beat on the DatabaseScheduler, once it holds the beat lock; `options` go to
    `celery beat`, `settings` become environment variables."""
    environment = {**app_environment(broker_url), **{key: str(value) for key, value in settings.items()}}
    with open(log_path, "w") as log:
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "project", "beat", "-l", "info", *options],
            cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    wait_for(lambda: "Took the beat lock" in log_path.read_text() or beat.poll() is not None, 60, "beat to start")
    if beat.poll() is not None:
        raise RuntimeError(f"Celery beat exited early:\n{log_path.read_text()}")
    beat.log_path = log_path
    return beat


@pytest.fixture
def celery_beat_process(broker, django_db_setup, tmp_path):
    """A real beat ticking every second and sending the lost-job check every second (the worker
    that runs it still uses the default 30 minutes)."""
    beat = start_beat(broker.url, tmp_path / "beat.log", "--max-interval", "1", OFFLOAD_LOST_JOB_CHECK_SECONDS=1)
    yield beat
    stop_process(beat)
