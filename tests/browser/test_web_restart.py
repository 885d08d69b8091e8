"""The web process restarts while a page is polling: the page carries on, with no reload."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from project.embedded_redis import free_port
from reports.engine import jobs
from tests.conftest import app_environment, stop_process
from tests.fault_injection import FAULT
from tests.support import sign_in, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]
SALES_PARAMS = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}


def start_web(broker, port: int, log_path: Path) -> subprocess.Popen:
    with open(log_path, "a") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=BASE_DIR, env=app_environment(broker.url), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    wait_for(lambda: "Quit the server" in log_path.read_text() or server.poll() is not None, 60, "the web server")
    assert server.poll() is None, log_path.read_text()
    return server


def test_a_polling_page_carries_on_after_the_web_process_restarts(page, broker, user, celery_worker_process, tmp_path):
    port, log_path = free_port(), tmp_path / "web.log"
    server = start_web(broker, port, log_path)
    try:
        sign_in(page, SimpleNamespace(url=f"http://127.0.0.1:{port}"))
        job = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow:8"})
        page.goto(f"http://127.0.0.1:{port}/jobs/{job.pk}/")
        loads = []
        page.on("load", lambda _: loads.append(1))
        bar = page.get_by_role("progressbar")
        expect(bar).not_to_have_attribute("aria-valuenow", "0", timeout=30_000)

        stop_process(server)
        page.wait_for_timeout(2500)  # a few polls fail while nothing listens
        expect(bar).to_be_visible()  # the page is still there, not an error page
        server = start_web(broker, port, log_path)

        expect(page.locator(".result table")).to_be_visible(timeout=60_000)
        assert loads == []  # htmx kept polling and swapped the result in: no reload
    finally:
        stop_process(server)
