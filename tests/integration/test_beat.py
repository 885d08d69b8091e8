"""Celery beat as a real process: housekeeping schedules installed, and never two beats at once."""

import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django_celery_beat.models import PeriodicTask

from project.beat_lock import LOCK_NAME
from tests.conftest import app_environment
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
BASE_DIR = Path(__file__).resolve().parents[2]


def start_beat(broker, tmp_path, name) -> tuple[subprocess.Popen, Path]:
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "w") as log:
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "project", "beat", "-l", "info"],
            cwd=BASE_DIR, env=app_environment(broker.url), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return beat, log_path


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)


def test_a_second_beat_refuses_to_start_and_says_why(broker, tmp_path):
    first, first_log = start_beat(broker, tmp_path, "first")
    try:
        wait_for(
            lambda: "Took the beat lock" in first_log.read_text() or first.poll() is not None, 60, "the first beat"
        )
        assert first.poll() is None, first_log.read_text()
        second, second_log = start_beat(broker, tmp_path, "second")
        try:
            second.wait(timeout=60)
        finally:
            stop(second)
        assert second.returncode != 0
        assert "Another celery beat is already running" in second_log.read_text()
        assert first.poll() is None  # the first one carries on
        names = set(PeriodicTask.objects.values_list("name", flat=True))
        assert {"offload: fail lost jobs", "offload: delete old jobs", "celery.backend_cleanup"} <= names
    finally:
        stop(first)


def test_after_the_first_beat_stops_a_new_one_can_start(broker, tmp_path):
    first, first_log = start_beat(broker, tmp_path, "first")
    wait_for(lambda: "Took the beat lock" in first_log.read_text(), 60, "the first beat")
    stop(first)
    assert first.returncode == 0, first_log.read_text()
    # A clean stop releases the lock at once, so the next beat need not wait for it to expire.
    assert not redis.Redis.from_url(broker.url).exists(LOCK_NAME)
    second, second_log = start_beat(broker, tmp_path, "second")
    try:
        wait_for(
            lambda: "Took the beat lock" in second_log.read_text() or second.poll() is not None, 60, "the second beat"
        )
        assert second.poll() is None, second_log.read_text()
    finally:
        stop(second)
