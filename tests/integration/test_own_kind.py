"""A job kind declared here, in the test, and nowhere else: through real HTTP (a live server)
and a real Celery worker it gets the live bar, cancel, Run again, the notice, the active-job cap,
a schedule, its rows on My jobs and its place on the Operations pages, with no other file
touched.

The worker runs this module as its Celery app (`celery -A tests.integration.test_own_kind`),
which declares the same kind in each pool process; its jobs wait in a queue of their own, so
the suite's shared worker, which does not know the kind, never takes one.
"""

import re
import time

import django
import pytest
from celery.signals import worker_process_init

from tests.fault_injection import app  # noqa: F401  (what `celery -A` looks for; it names the settings)

django.setup()  # a worker imports this module as its app before it sets Django up itself

from django.contrib.auth import get_user_model  # noqa: E402

from reports import kinds  # noqa: E402
from reports.models import AuditEntry, Job, ReportSchedule  # noqa: E402
from reports.tasks import run_scheduled_report  # noqa: E402
from tests.conftest import start_worker, stop_process  # noqa: E402
from tests.support import csrf_headers, signed_in_client, wait_for  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"
QUEUE = "own-kind"


def count_down(params, progress, files):
    steps = int(params["seconds"] * 10)
    for step in range(steps):
        progress(100 * step / steps, f"{(steps - step) / 10:.1f} s to go")
        time.sleep(0.1)
    files.save("countdown.txt", "The countdown (text)", "text/plain", f"{params['seconds']} s\n".encode())
    return {"subtitle": f"{params['seconds']} seconds", "seconds_counted": params["seconds"]}


def declare() -> kinds.JobKind:
    from django import forms

    from reports.forms import ReportForm

    class CountdownForm(ReportForm):
        seconds = forms.FloatField(label="Seconds", min_value=0.1, max_value=120)

    return kinds.register(
        kinds.JobKind(
            name="countdown",
            title="Countdown",
            description="Counts down, slowly.",
            form=CountdownForm,
            run=count_down,
            queue=QUEUE,
            describe=lambda params: f"{params['seconds']:g} s",
        )  # fmt: skip
    )


@worker_process_init.connect
def declare_in_worker(**kwargs) -> None:
    declare()


@pytest.fixture
def countdown(broker, tmp_path, settings):
    kind = declare()
    worker = start_worker(broker.url, tmp_path / "worker.log", name="own-kind", app=__name__,
                          queues=f"{QUEUE},default")  # fmt: skip
    yield kind
    stop_process(worker)
    kinds.unregister(kind.name)


@pytest.fixture
def ada(live_server, user):
    return signed_in_client(live_server.url, "ada", "correct horse battery")


def start(client, seconds: float) -> Job:
    before = set(Job.objects.values_list("pk", flat=True))
    response = client.post("/reports/countdown/", data={"seconds": seconds}, headers=csrf_headers(client))
    assert response.status_code == 200, response.text[:500]
    return Job.objects.exclude(pk__in=before).get()


def fragment(client, job: Job) -> str:
    return client.get(f"/jobs/{job.pk}/status/", headers={"HX-Request": "true"}).text


def test_a_kind_declared_in_a_test_gets_every_feature_through_http_and_a_real_worker(
    countdown, ada, live_server, user, settings
):
    home = ada.get("/").text
    assert "Countdown" in home and "Counts down, slowly." in home

    # The live bar, then the result and its download.
    job = start(ada, 2)
    seen = []
    wait_for(lambda: seen.append(fragment(ada, job)) or "hx-trigger" not in seen[-1], 60, "the countdown to end")
    assert any(re.search(r"\d\.\d s to go", page) for page in seen), "no progress was shown"
    assert "<dt>Seconds counted</dt><dd>2.0</dd>" in seen[-1] and "The countdown (text)" in seen[-1]

    # Run again: the same parameters, a new job, run by the worker; its notice waits on other pages.
    again = ada.post(f"/jobs/{job.pk}/run-again/", headers=csrf_headers(ada))
    new_job = Job.objects.exclude(pk=job.pk).get()
    assert again.headers["HX-Redirect"] == f"/jobs/{new_job.pk}/"
    assert new_job.params == {"seconds": 2.0}
    wait_for(lambda: Job.objects.get(pk=new_job.pk).status == Job.Status.SUCCEEDED, 60, "Run again to finish")
    notices = ada.get("/notices/", headers={"HX-Request": "true"}).text
    assert "Your countdown is ready" in notices

    # Cancel: a running countdown stops at its next progress write.
    long = start(ada, 60)
    wait_for(lambda: Job.objects.get(pk=long.pk).progress > 0, 30, "the long countdown to run")
    ada.post(f"/jobs/{long.pk}/cancel/", headers=csrf_headers(ada))
    assert Job.objects.get(pk=long.pk).status == Job.Status.CANCELLED

    # A schedule of it, run as beat runs one (the task beat sends, here sent at once to the worker).
    form = ada.get("/schedules/new/?kind=countdown").text
    assert "New schedule: Countdown" in form and 'name="seconds"' in form
    saved = ada.post("/schedules/new/", headers=csrf_headers(ada), data={
        "kind": "countdown", "name": "Every morning", "seconds": 0.5, "frequency": "daily", "time_of_day": "07:00",
        "weekday": 1, "time_zone": "Europe/Paris",
    })  # fmt: skip
    assert saved.status_code == 303, saved.text[:500]
    schedule = ReportSchedule.objects.get(name="Every morning")
    assert (schedule.kind, schedule.params) == ("countdown", {"seconds": 0.5})
    assert "Countdown: 0.5 s" in ada.get("/schedules/").text
    # To this test's worker: the suite's shared one, which does not know the kind, would fail the job it makes.
    run_scheduled_report.apply_async(args=[str(schedule.pk)], queue=QUEUE)
    wait_for(
        lambda: Job.objects.filter(schedule=schedule, status=Job.Status.SUCCEEDED).exists(), 60, "the scheduled run"
    )

    # The active-job cap.
    settings.OFFLOAD_MAX_ACTIVE_JOBS = 1
    held = start(ada, 60)
    refused = ada.post("/reports/countdown/", data={"seconds": 1}, headers=csrf_headers(ada))
    assert refused.status_code == 429 and "the most at once" in refused.text
    ada.post(f"/jobs/{held.pk}/cancel/", headers=csrf_headers(ada))

    # My jobs, its filter, and the Operations pages.
    mine = ada.get("/jobs/?kind=countdown").text
    assert mine.count("Countdown</a>") == 5 and "60 s" in mine
    get_user_model().objects.create_superuser("olga", password=PASSWORD)
    olga = signed_in_client(live_server.url, "olga", PASSWORD)
    found = olga.get("/operations/search/?q=ada").text
    assert found.count("Countdown") == 5
    performance = olga.get("/operations/performance/?window=hour").text
    assert "Countdown" in performance and QUEUE in performance
    bulked = olga.post("/operations/bulk/start/", data={"action": "delete", "kind": "countdown", "step": "confirm"},
              headers=csrf_headers(olga))  # fmt: skip
    assert "4 jobs" in bulked.text or "Waiting for a worker" in bulked.text, bulked.text[:300]
    wait_for(lambda: not Job.objects.filter(kind="countdown").exists(), 30, "the bulk delete")
    assert AuditEntry.objects.get(action="Delete finished jobs").jobs == 5
