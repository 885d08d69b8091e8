"""A bulk retry of 1,000 failed jobs, end to end: an operator's clicks on a real web server, the
bulk action run by a real Celery worker, and every retried job run again by it to the end."""

import re
import time

import pytest
from django.utils import timezone

from reports.models import AuditEntry, BulkAction, Job
from tests.integration.test_faults import SALES_PARAMS
from tests.support import csrf_headers, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

JOBS = 1_000


def failed_jobs(owner, count: int, error: str) -> list[Job]:
    now = timezone.now()
    return Job.objects.bulk_create(
        Job(owner=owner, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.FAILED, step="Failed",
            error_message=error, error_reference=f"R{number:07d}", created_at=now, finished_at=now)
        for number in range(count)
    )  # fmt: skip


def test_an_operator_retries_1000_failed_jobs_and_a_real_worker_runs_every_one_again(
    own_redis, workers, operator, user, other_user
):
    retried = failed_jobs(user, JOBS, "The warehouse table was locked.")
    untouched = failed_jobs(user, 5, "Not this kind of failure")
    someone_elses = failed_jobs(other_user, 5, "The warehouse table was locked.")
    workers("w1", concurrency=2, OFFLOAD_DEMO_ORDERS=5_000)
    chosen = {"action": "retry", "owner": "ada", "error_contains": "warehouse table"}

    counted = operator.post("/operations/bulk/count/", data=chosen, headers=csrf_headers(operator))
    assert counted.status_code == 200
    assert "Retry 1,000 failed jobs?" in counted.text
    assert "5 more match the filter but are not failed" not in counted.text  # the others do not match at all

    started = operator.post(
        "/operations/bulk/start/", data={**chosen, "step": "confirm"}, headers=csrf_headers(operator)
    )
    assert started.status_code == 200
    status_url = re.search(r'hx-get="(/operations/bulk/[0-9a-f-]+/)"', started.text).group(1)

    # The progress fragment, polled as the page does, until it stops asking to be polled.
    seen = []

    def ended():
        fragment = operator.get(status_url, headers={"HX-Request": "true"}).text
        seen.append(fragment)
        return "hx-trigger" not in fragment

    wait_for(ended, 120, "the bulk action to end", interval=0.5)
    assert "1,000 of 1,000 retried" in seen[-1]
    assert re.search(r"Waiting for a worker|\d+ of 1,000 jobs", seen[0])  # a bar before the end

    bulk_action = BulkAction.objects.get()
    assert (bulk_action.status, bulk_action.matched, bulk_action.done, bulk_action.errors) == ("done", JOBS, JOBS, 0)
    entry = AuditEntry.objects.get(action="Retry failed jobs")
    assert (entry.actor_name, entry.jobs) == ("olga", JOBS)
    assert "owner ada, error containing “warehouse table”: 1,000 of 1,000 retried" in entry.detail

    ids = [job.pk for job in retried]

    def all_finished() -> bool:
        return Job.objects.filter(pk__in=ids, status=Job.Status.SUCCEEDED).count() == JOBS

    started_waiting = time.monotonic()
    wait_for(all_finished, 600, "the 1,000 retried jobs to run", interval=1)
    print(f"\n1,000 retried jobs ran in {time.monotonic() - started_waiting:.0f} s after the bulk action ended")
    attempts = set(Job.objects.filter(pk__in=ids).values_list("attempt", flat=True))
    assert attempts == {2}
    assert Job.objects.filter(pk__in=ids, history__0__error="The warehouse table was locked.").count() == JOBS
    for job in (*untouched, *someone_elses):
        assert Job.objects.get(pk=job.pk).status == Job.Status.FAILED
