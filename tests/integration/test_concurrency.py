"""Fifty jobs submitted at once on the default database, two worker processes: every job is
accounted for, and nobody sees "database is locked"."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from reports.models import Job
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SALES_FORM = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}
PEOPLE, JOBS_EACH = 10, 5


def submit(user) -> int:
    """One person clicking Generate five times, from a thread of its own (a connection of its own)."""
    client = Client()
    client.force_login(user)
    try:
        return sum(
            client.post("/reports/sales-summary/", SALES_FORM, HTTP_HX_REQUEST="true").status_code == 200
            for _ in range(JOBS_EACH)
        )
    finally:
        connection.close()


def test_fifty_jobs_at_once_all_finish_and_nothing_is_locked(celery_worker_process, settings):
    settings.OFFLOAD_MAX_ACTIVE_JOBS = JOBS_EACH  # each person is allowed all five at once
    people = [get_user_model().objects.create_user(f"user{n}", password="x" * 20) for n in range(PEOPLE)]
    log_before = celery_worker_process.log_path.read_text()
    with ThreadPoolExecutor(max_workers=PEOPLE) as pool:
        accepted = sum(pool.map(submit, people))
    assert accepted == PEOPLE * JOBS_EACH

    def all_final():
        return not Job.objects.filter(status__in=Job.ACTIVE_STATUSES).exists()

    wait_for(all_final, 300, "every job to end")
    outcomes = {status: Job.objects.filter(status=status).count() for status in Job.Status.values}
    assert outcomes[Job.Status.SUCCEEDED] == PEOPLE * JOBS_EACH, outcomes
    new_log = celery_worker_process.log_path.read_text()[len(log_before) :]
    assert "database is locked" not in new_log and "Traceback" not in new_log
