"""The report task called directly (no worker): outcomes recorded on the Job row."""

import dataclasses

import pytest
from django.core.files.base import ContentFile

from reports import kinds
from reports.engine import events
from reports.models import Job
from reports.tasks import run_report
from tests.support import people_csv

pytestmark = pytest.mark.django_db

SALES_PARAMS = {"date_from": "2025-01-01", "date_to": "2025-12-31", "group_by": "product", "metric": "revenue"}


@pytest.fixture(autouse=True)
def small_demo_data(settings):
    settings.OFFLOAD_DEMO_ORDERS = 20_000


def replace_run(monkeypatch, run):
    kind = kinds.get("sales_summary")
    monkeypatch.setitem(kinds.REGISTRY, kind.name, dataclasses.replace(kind, run=run))


def sales_job(user, **params) -> Job:
    return Job.objects.create(owner=user, kind="sales_summary", params={**SALES_PARAMS, **params})


def profile_job(user, content: bytes) -> Job:
    job = Job(owner=user, kind="csv_profile", params={"source_name": "x.csv", "separator": ","})
    job.input_file.save("ignored-client-name.csv", ContentFile(content), save=False)
    job.save()
    return job


def test_sales_summary_succeeds_with_table_chart_and_downloads(user):
    job = sales_job(user)
    assert run_report(str(job.pk)) == "succeeded"
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.progress == 100
    assert len(job.result["rows"]) == 10
    assert job.result["totals"]["orders"] == sum(row["orders"] for row in job.result["rows"])
    assert sorted(a.name for a in job.artifacts.all()) == [
        "chart.svg", "sales-summary.csv", "sales-summary.pdf", "sales-summary.xlsx",
    ]  # fmt: skip
    assert job.artifacts.get(name="chart.svg").file.read().lstrip().startswith(b"<?xml")


def test_dates_the_moving_demo_calendar_has_left_behind_fail_with_a_sentence(user, settings):
    settings.OFFLOAD_DEMO_LAST_DAY = "2027-03-31"  # after New Year 2027 the data starts on 1 Jan 2026
    job = sales_job(user)  # 2025: a Run again of a job from the year before
    assert run_report(str(job.pk)) == "failed"
    job.refresh_from_db()
    assert "now covers 1 Jan 2026 to 31 Mar 2027, and these dates are no longer in it" in job.error_message
    relative = sales_job(user, date_from="2027-02-01", date_to="2027-02-28", period="last_month")
    assert run_report(str(relative.pk)) == "succeeded"


@pytest.mark.parametrize("notify_by_email, queries", [(False, 4), (True, 5)])
def test_the_machinery_around_a_report_costs_four_queries_and_a_fifth_when_an_email_is_asked_for(
    user, monkeypatch, django_assert_num_queries, django_capture_on_commit_callbacks, notify_by_email, queries
):
    def quick(params, progress, files) -> dict:
        progress(50, "Halfway")
        return {"rows": [], "totals": {}}

    replace_run(monkeypatch, quick)
    monkeypatch.setattr(events, "_owners", {})  # as in a fresh worker process
    monkeypatch.setattr(events, "publish", lambda *args: None)
    job = sales_job(user)
    Job.objects.filter(pk=job.pk).update(notify_by_email=notify_by_email)
    # Started (UPDATE), read once with its owner, which its events then need no query for;
    # progress; success; and only if its owner asked for one, whether an email can be sent.
    with django_assert_num_queries(queries), django_capture_on_commit_callbacks(execute=True):
        assert run_report(str(job.pk)) == "succeeded"


def test_running_a_task_twice_does_not_duplicate_outputs(user):
    job = sales_job(user)
    run_report(str(job.pk))
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)  # as if the broker redelivered it
    run_report(str(job.pk))
    assert job.artifacts.count() == 4


def test_a_finished_job_is_skipped(user):
    job = sales_job(user)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELLED)
    assert run_report(str(job.pk)) == "skipped"
    assert not job.artifacts.exists()


def test_a_deleted_job_is_skipped(user):
    job_id = str(sales_job(user).pk)
    Job.objects.filter(pk=job_id).delete()
    assert run_report(job_id) == "skipped"


def test_a_csv_profile_stores_its_statistics_and_downloads(user):
    job = profile_job(user, people_csv(30))
    assert run_report(str(job.pk)) == "succeeded"
    job.refresh_from_db()
    assert job.result["rows"] == 30
    assert [c["name"] for c in job.result["columns"]] == ["name", "age", "joined", "score", "team"]
    assert job.artifacts.count() == 3


def test_an_upload_is_stored_under_a_generated_name(user):
    job = profile_job(user, people_csv(3))
    assert job.input_file.name == f"uploads/{job.pk}/input.csv"


def test_a_bad_file_fails_the_job_with_the_reason(user):
    job = profile_job(user, b"a,b\n" + b"1,2\n" * 30_000 + b"1,2,3\n")
    assert run_report(str(job.pk)) == "failed"
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "more fields than the header" in job.error_message


def test_an_unexpected_error_fails_the_job_with_a_reference_and_is_raised(user, monkeypatch, caplog):
    def broken(params, progress, files):
        raise ZeroDivisionError("bug")

    replace_run(monkeypatch, broken)
    job = sales_job(user)
    with pytest.raises(ZeroDivisionError):
        run_report(str(job.pk))
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "ZeroDivisionError" not in job.error_message  # the traceback is for the log, not the user
    assert job.error_reference in caplog.text


def test_a_job_cancelled_mid_run_stops_without_finishing(user, monkeypatch):
    def cancel_then_report(params, progress, files):
        Job.objects.filter(pk=files.job_id).update(status=Job.Status.CANCELLED)
        progress(50, "Next step")
        raise AssertionError("work should have stopped at the progress report")

    replace_run(monkeypatch, cancel_then_report)
    job = sales_job(user)
    assert run_report(str(job.pk)) == "stopped"
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
