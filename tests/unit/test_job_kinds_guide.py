"""docs/job-kinds.md's own code, run: the kind it declares gets its card, its form, its job run
by the task every kind runs through, its result and download on the job page, and a place in
the filters. The guide cannot drift from the API without this failing."""

import re
import sys
import types
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from reports import kinds
from reports.engine import jobs
from reports.models import Job, ReportSchedule
from reports.tasks import run_report
from tests.support import HTMX

pytestmark = pytest.mark.django_db

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "job-kinds.md"


def guide_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    assert len(blocks) == 1, "the guide's code is one block"
    return blocks[0]


@pytest.fixture
def guide_kind():
    """The guide's module, imported as a team's `myapp/job_kinds.py` would be."""
    module = types.ModuleType("guide_job_kinds")
    sys.modules[module.__name__] = module
    exec(compile(guide_code(), str(GUIDE), "exec"), module.__dict__)
    yield kinds.get("primes")
    kinds.unregister("primes")
    del sys.modules[module.__name__]


def test_the_guides_kind_has_its_card_and_form(owner_client, guide_kind):
    home = owner_client.get(reverse("home")).content.decode()
    assert "Prime numbers" in home and 'href="/reports/primes/"' in home
    form = owner_client.get("/reports/primes/").content.decode()
    assert "Count the primes up to" in form and "Email me when it has finished" in form


def test_the_guides_kind_runs_as_any_job_and_shows_its_result_and_download(
    owner_client, user, guide_kind, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as published:
        response = owner_client.post("/reports/primes/", {"limit": "100000"}, **HTMX)
    assert response.status_code == 200 and len(published) == 1
    job = Job.objects.get(kind="primes")
    assert job.params == {"limit": 100000} and job.get_kind_display() == "Prime numbers"

    assert run_report(str(job.pk)) == "succeeded"  # the task every plain kind runs through
    job.refresh_from_db()
    assert job.result == {"subtitle": "Up to 100,000", "primes": 9592, "largest": 99991}  # π(10⁵) = 9,592
    page = owner_client.get(job.get_absolute_url()).content.decode()
    assert "<dt>Primes</dt><dd>9,592</dd>" in page and "<dt>Largest</dt><dd>99,991</dd>" in page
    assert "All the primes (CSV)" in page
    download = owner_client.get(reverse("artifact_download", args=[job.pk, "primes.csv"]))
    lines = b"".join(download.streaming_content).decode().split()
    assert lines[:4] == ["prime", "2", "3", "5"] and len(lines) == 9593

    rows = owner_client.get(reverse("job_list") + "?kind=primes").content.decode()
    assert "Prime numbers" in rows and "up to 100,000" in rows


def test_the_guides_form_explains_a_wrong_number_in_place(owner_client, guide_kind):
    response = owner_client.post("/reports/primes/", {"limit": "1"}, **HTMX)
    assert "Ensure this value is greater than or equal to 2." in response.content.decode()
    assert not Job.objects.exists()


def test_a_kind_on_a_queue_no_plain_worker_consumes_is_warned_of_at_start(guide_kind):
    from dataclasses import replace

    assert kinds.check_queues() == []
    kinds.register(replace(guide_kind, queue="heavy"))
    (warning,) = kinds.check_queues()
    assert warning.id == "offload.W001" and "'heavy'" in warning.msg and "-Q heavy" in warning.hint


def test_the_guides_kind_can_be_scheduled_with_its_own_fields(owner_client, guide_kind):
    form = owner_client.get(reverse("schedule_new") + "?kind=primes").content.decode()
    assert "New schedule: Prime numbers" in form and 'name="limit"' in form and 'name="date_from"' not in form
    owner_client.post(reverse("schedule_new"), {"kind": "primes", "name": "Nightly primes", "limit": "1000",
                                                "frequency": "daily", "time_of_day": "02:00", "time_zone": "UTC"})  # fmt: skip
    schedule = ReportSchedule.objects.get()
    assert (schedule.kind, schedule.params) == ("primes", {"limit": 1000})
    assert "Prime numbers: up to 1,000" in owner_client.get(reverse("schedule_list")).content.decode()
    edit = owner_client.get(reverse("schedule_edit", args=[schedule.pk])).content.decode()
    assert 'value="1000"' in edit


def test_jobs_of_a_kind_no_longer_declared_still_open_and_fail_with_a_sentence_if_run(
    owner_client, user, guide_kind, django_capture_on_commit_callbacks
):
    job = Job.objects.create(owner=user, kind="primes", params={"limit": 10}, status=Job.Status.SUCCEEDED,
                             result={"primes": 4}, finished_at=timezone.now())  # fmt: skip
    kinds.unregister("primes")  # a team removed the kind; its old jobs stay
    page = owner_client.get(job.get_absolute_url())
    assert page.status_code == 200 and "<dt>Primes</dt><dd>4</dd>" in page.content.decode()
    assert "Back to the" not in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("job_run_again", args=[job.pk]))
    again = Job.objects.exclude(pk=job.pk).get()
    assert again.status == Job.Status.FAILED and again.error_message == jobs.UNKNOWN_KIND_MESSAGE
    assert run_report(str(again.pk)) == "skipped"  # a stray delivery changes nothing
    queued = Job.objects.create(owner=user, kind="primes", params={"limit": 10})  # queued before the kind went
    assert run_report(str(queued.pk)) == "failed"
    assert Job.objects.get(pk=queued.pk).error_message == jobs.UNKNOWN_KIND_MESSAGE
    assert f"/jobs/{job.pk}/" in owner_client.get(reverse("job_list")).content.decode()  # its row is still there


def test_a_kind_with_a_field_named_as_a_schedules_is_not_offered_for_schedules_and_is_warned_of(guide_kind):
    from dataclasses import replace

    from django import forms as django_forms

    from reports import forms

    assert guide_kind in forms.schedulable_kinds() and forms.check_schedule_fields() == []
    clashing = type("ClashingForm", (guide_kind.form,), {"name": django_forms.CharField()})
    kinds.register(replace(guide_kind, form=clashing))
    assert kinds.get("primes") not in forms.schedulable_kinds()
    (warning,) = forms.check_schedule_fields()
    assert warning.id == "offload.W002" and "(name)" in warning.msg
