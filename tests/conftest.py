"""Fixtures for every test: a real Redis as the broker, a real worker, throwaway storage, users."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from project import celery_app
from project.embedded_redis import EmbeddedRedis
from tests.support import wait_for

BASE_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def broker(tmp_path_factory):
    """A private Redis server for the whole run; the app publishes to it, workers consume from it."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    celery_app.conf.broker_url = server.url
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def isolated_files(tmp_path_factory):
    """Uploads, outputs and the demo data go to a temporary folder, never var/."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    settings.OFFLOAD_DEMO_DATA_DIR = tmp_path_factory.mktemp("demo-data")


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


def app_environment(broker) -> dict:
    """What a worker or server process needs to share this test run's broker, database and files."""
    return {
        **os.environ,
        "CELERY_BROKER_REDIS_URL": broker.url,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "OFFLOAD_DEMO_DATA_DIR": str(settings.OFFLOAD_DEMO_DATA_DIR),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def celery_worker_process(broker, django_db_setup, django_db_blocker, tmp_path_factory):
    """A real worker (prefork, 2 processes) on the project's app; tests.fault_injection lets a job
    ask for a fault (transient errors, slowness) through its parameters."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    # Retries a second apart, not five, so the retry test does not wait.
    environment = {**app_environment(broker), "OFFLOAD_RETRY_BACKOFF": "0.5"}
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.fault_injection", "worker", "-l", "info", "-c", "2",
             "--without-mingle", "--without-gossip", "-n", "test-worker@%h"],
            cwd=BASE_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: "ready." in log_path.read_text() or worker.poll() is not None, 60, "the worker to start")
        if worker.poll() is not None:
            raise RuntimeError(f"The Celery worker exited early:\n{log_path.read_text()}")
        worker.log_path = log_path
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.fixture
def celery_beat_process(broker, django_db_setup, tmp_path):
    """A real beat on the DatabaseScheduler, ticking every second and sending the lost-job check
    every second (the worker that runs it still uses the default 30 minutes)."""
    log_path = tmp_path / "beat.log"
    environment = {
        **app_environment(broker),
        "OFFLOAD_LOST_JOB_CHECK_SECONDS": "1",
    }
    with open(log_path, "w") as log:
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "project", "beat", "-l", "info", "--max-interval", "1"],
            cwd=BASE_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: "Took the beat lock" in log_path.read_text() or beat.poll() is not None, 60, "beat to start")
        if beat.poll() is not None:
            raise RuntimeError(f"Celery beat exited early:\n{log_path.read_text()}")
        beat.log_path = log_path
        yield beat
    finally:
        beat.terminate()
        try:
            beat.wait(timeout=20)
        except subprocess.TimeoutExpired:
            beat.kill()
