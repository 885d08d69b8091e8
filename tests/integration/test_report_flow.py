"""The report journey through a real Redis and a real Celery worker process."""

import csv
import io

import pytest
from django.urls import reverse

from reports.models import Job
from tests.support import HTMX, csv_bytes, csv_upload, people_csv, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SALES_FORM = {"date_from": "2024-07-01", "date_to": "2025-06-30", "group_by": "region", "metric": "revenue"}


def finished(job_id, timeout=90) -> Job:
    def done():
        job = Job.objects.get(pk=job_id)
        return job if job.status in Job.FINAL_STATUSES else None

    return wait_for(done, timeout, f"job {job_id} to finish")


def test_sales_summary_runs_in_the_worker_and_appears_in_the_fragment(celery_worker_process, owner_client, user):
    response = owner_client.post("/reports/sales-summary/", SALES_FORM, **HTMX)
    assert response.status_code == 200
    job = Job.objects.get(owner=user)
    job = finished(job.pk)
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert job.started_at and job.finished_at and job.progress == 100
    assert [row["group"] for row in job.result["rows"]][0] == "North America"
    assert job.result["totals"]["orders"] > 100_000  # the built-in demo data, full size

    fragment = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX).content.decode()
    assert "hx-trigger" not in fragment and "North America" in fragment and "<table" in fragment

    download = owner_client.get(reverse("artifact_download", args=[job.pk, "sales-summary.csv"]))
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:2] == ["Region", "Orders"]
    assert {row[0] for row in rows[1:]} == {row["group"] for row in job.result["rows"]}
    for name in ("sales-summary.xlsx", "sales-summary.pdf", "chart.svg"):
        assert owner_client.get(reverse("artifact_download", args=[job.pk, name])).status_code == 200


def test_the_task_result_row_joins_the_job(celery_worker_process, owner_client, user):
    from django_celery_results.models import TaskResult

    owner_client.post("/reports/sales-summary/", SALES_FORM)
    job = finished(Job.objects.get(owner=user).pk)
    result = wait_for(
        lambda: TaskResult.objects.filter(task_id=job.task_id, status="SUCCESS").first(), 30, "the task result"
    )
    assert result.task_name == "reports.tasks.run_report"


def test_csv_profile_of_an_upload_runs_in_the_worker(celery_worker_process, owner_client, user):
    response = owner_client.post("/reports/csv-profile/", {"file": csv_upload(people_csv(500), "team.csv")})
    assert response.status_code == 303
    job = finished(Job.objects.get(owner=user).pk)
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert job.result["rows"] == 500
    page = owner_client.get(response["Location"]).content.decode()
    assert "team.csv" in page and "joined" in page and "2024-01-01" in page
    assert job.artifacts.count() == 3


def test_a_file_that_goes_bad_after_the_sample_fails_with_a_clear_message(celery_worker_process, owner_client, user):
    content = csv_bytes(["a", "b"], [[i, i] for i in range(40_000)]) + b"1,2,3\n"
    owner_client.post("/reports/csv-profile/", {"file": csv_upload(content)})
    job = finished(Job.objects.get(owner=user).pk)
    assert job.status == Job.Status.FAILED
    assert "more fields than the header" in job.error_message
    page = owner_client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "more fields than the header" in page and "hx-get" not in page
