"""Soak (make test-slow): a few thousand short jobs through a real web server, Redis and two
worker processes. Every Job row reaches a final state, the counts match, and the workers'
memory stays flat. It prints the figures it measured."""

import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from django.contrib.auth import get_user_model

from project.embedded_redis import free_port
from reports.models import Job
from tests.conftest import app_environment, start_worker, stop_process
from tests.support import csrf_headers, signed_in_client, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(1800),  # minutes, not the suite's 5-minute limit per test
]

BASE_DIR = Path(__file__).resolve().parents[2]
JOBS = int(os.environ.get("OFFLOAD_SOAK_JOBS", 2000))
CLIENTS = 8
SALES_FORM = {"date_from": "2025-01-01", "date_to": "2025-01-31", "group_by": "region", "metric": "orders"}


def worker_memory_mib(worker) -> float:
    """Resident memory of the worker: its main process and its pool."""
    main = psutil.Process(worker.pid)
    return sum(process.memory_info().rss for process in [main, *main.children(recursive=True)]) / 2**20


def submit_many(base_url: str, username: str, count: int) -> int:
    """One person clicking Generate `count` times, as fast as the active-job cap lets them."""
    accepted = 0
    client = signed_in_client(base_url, username, "x" * 20)
    try:
        headers = csrf_headers(client)
        while accepted < count:
            response = client.post("/reports/sales-summary/", data=SALES_FORM, headers=headers)
            if response.status_code == 429:  # at the cap: wait for one to finish, as a person would
                time.sleep(0.2)
                continue
            assert response.status_code == 200, response.text[:500]
            accepted += 1
    finally:
        client.close()
    return accepted


def test_thousands_of_jobs_all_end_and_worker_memory_stays_flat(tmp_path, django_db_setup, settings):
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    users = [get_user_model().objects.create_user(f"soak{n}", password="x" * 20) for n in range(CLIENTS)]
    broker = tmp_path / "redis"
    from project.embedded_redis import EmbeddedRedis

    redis_server = EmbeddedRedis(broker, persist=False).start()
    port = free_port()
    environment = {**app_environment(redis_server.url), "OFFLOAD_MAX_ACTIVE_JOBS": "10", "OFFLOAD_DEMO_ORDERS": "20000"}
    log = open(tmp_path / "web.log", "w")  # noqa: SIM115
    web = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=BASE_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    worker = start_worker(
        redis_server.url, tmp_path / "worker.log", name="soak", concurrency=2, OFFLOAD_DEMO_ORDERS=20000
    )
    try:
        wait_for(lambda: "Quit the server" in (tmp_path / "web.log").read_text(), 60, "the web server")
        base_url = f"http://127.0.0.1:{port}"
        memory = [worker_memory_mib(worker)]
        started = time.monotonic()
        per_client = JOBS // CLIENTS
        with ThreadPoolExecutor(CLIENTS) as pool:
            clicks = [pool.submit(submit_many, base_url, user.username, per_client) for user in users]
            while not all(click.done() for click in clicks):
                time.sleep(5)
                memory.append(worker_memory_mib(worker))
            accepted = sum(click.result() for click in clicks)
        deadline = time.monotonic() + 600
        while Job.objects.filter(status__in=Job.ACTIVE_STATUSES).exists():
            assert time.monotonic() < deadline, "jobs still active 10 minutes after the last click"
            time.sleep(2)
            memory.append(worker_memory_mib(worker))
        took = time.monotonic() - started
        memory.append(worker_memory_mib(worker))
        outcomes = {status: Job.objects.filter(status=status).count() for status in Job.Status.values}
        print(
            f"\nSoak: {accepted} jobs accepted over HTTP by {CLIENTS} clients in {took:.0f} s "
            f"({accepted / took:.1f} jobs/s end to end); outcomes {outcomes}; worker memory (main + 2 pool "
            f"processes) first {memory[0]:.0f} MiB, after warm-up {memory[len(memory) // 5]:.0f} MiB, "
            f"peak {max(memory):.0f} MiB, last {memory[-1]:.0f} MiB ({len(memory)} samples)"
        )
        assert accepted == per_client * CLIENTS == Job.objects.count()
        assert outcomes[Job.Status.SUCCEEDED] == accepted, outcomes
        # Flat: after warming up (imports, the first data load: a fifth of the run), the last sample
        # is within 25% of it.
        warm = memory[len(memory) // 5]
        assert memory[-1] < warm * 1.25, memory
        assert "database is locked" not in (tmp_path / "worker.log").read_text()
    finally:
        stop_process(worker)
        stop_process(web)
        log.close()
        redis_server.stop()
