"""Report schedules: kept in django-celery-beat's tables, owned, timed in the owner's zone."""

import json
import zoneinfo
from datetime import UTC, datetime, time, timedelta

import pytest
import redis
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from reports.engine import schedules
from reports.models import Job, ReportSchedule
from reports.tasks import run_scheduled_report
from tests.support import HTMX, SALES_PARAMS

pytestmark = pytest.mark.django_db

FORM = {**SALES_PARAMS, "name": "Monday numbers", "time_zone": "Europe/Paris"}
DAILY_AT_7 = schedules.Timing("daily", "Europe/Paris", time(7, 0))


@pytest.fixture(autouse=True)
def empty_queue(broker):
    yield
    redis.Redis.from_url(broker.url).flushdb()


def make_schedule(owner, timing=DAILY_AT_7, name="Morning sales", **kwargs) -> ReportSchedule:
    return schedules.save_schedule(owner, name, "sales_summary", SALES_PARAMS, timing, False, **kwargs)


# --- Stored where beat and the admin see them -------------------------------------------------


def test_a_schedule_is_a_periodic_task_beat_can_run(user):
    schedule = make_schedule(user)
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.task == "reports.tasks.run_scheduled_report" and task.enabled
    assert json.loads(task.kwargs) == {"schedule_id": str(schedule.pk)}
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week) == ("0", "7", "*")
    assert str(crontab.timezone) == "Europe/Paris"


def test_weekly_and_crontab_timings_become_the_matching_crontab(user):
    weekly = make_schedule(user, schedules.Timing("weekly", "UTC", time(18, 30), weekday=5), name="Fridays")
    cron = make_schedule(
        user, schedules.Timing("crontab", "Asia/Tokyo", crontab_expression="15 6 1 * *"), name="Monthly"
    )
    assert (weekly.periodic_task.crontab.hour, weekly.periodic_task.crontab.minute) == ("18", "30")
    assert weekly.periodic_task.crontab.day_of_week == "5"
    assert cron.periodic_task.crontab.day_of_month == "1" and str(cron.periodic_task.crontab.timezone) == "Asia/Tokyo"
    assert schedules.describe(weekly) == "Every Friday at 18:30 (UTC)"


def test_next_run_is_at_the_chosen_time_in_the_owners_zone(user):
    schedule = make_schedule(user)
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    # 05:00 UTC on 24 Nov is 06:00 in Paris: the next 07:00 there is an hour later, the same day.
    now = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
    PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(last_run_at=now - timedelta(hours=23))
    schedule.refresh_from_db()
    schedule.periodic_task.refresh_from_db()
    when = schedules.next_run(schedule, now=now)
    assert when.astimezone(paris).replace(tzinfo=None) == datetime(2026, 11, 24, 7, 0)


def test_editing_changes_the_same_periodic_task_and_drops_an_unused_crontab(user):
    schedule = make_schedule(user)
    old_crontab = schedule.periodic_task.crontab_id
    schedules.save_schedule(
        user, "Evening sales", "sales_summary", SALES_PARAMS, schedules.Timing("daily", "UTC", time(19, 0)), True,
        schedule=schedule,
    )  # fmt: skip
    assert PeriodicTask.objects.filter(task=schedules.TASK_NAME).count() == 1
    schedule.refresh_from_db()
    assert schedule.name == "Evening sales" and schedule.periodic_task.crontab.hour == "19"
    assert not CrontabSchedule.objects.filter(pk=old_crontab).exists()


def test_a_crontab_row_shared_with_another_task_is_kept_when_one_schedule_goes(user, other_user):
    mine, theirs = make_schedule(user), make_schedule(other_user)
    assert mine.periodic_task.crontab_id == theirs.periodic_task.crontab_id
    schedules.delete_schedule(mine)
    assert PeriodicTask.objects.filter(pk=theirs.periodic_task_id).exists()
    assert not ReportSchedule.objects.filter(pk=mine.pk).exists()


def test_pausing_disables_the_periodic_task_and_resuming_does_not_catch_up(user):
    schedule = make_schedule(user)
    schedules.set_paused(schedule, True)
    assert not PeriodicTask.objects.get(pk=schedule.periodic_task_id).enabled
    assert schedules.next_run(schedule) is None
    schedules.set_paused(schedule, False)
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.enabled and task.last_run_at > timezone.now() - timedelta(minutes=1)


# --- Running ----------------------------------------------------------------------------------


def test_a_scheduled_run_makes_an_ordinary_job_owned_by_the_owner(user, django_capture_on_commit_callbacks):
    schedule = make_schedule(user)
    with django_capture_on_commit_callbacks(execute=True):
        job_id = run_scheduled_report(str(schedule.pk))
    job = Job.objects.get(pk=job_id)
    assert job.owner == user and job.kind == "sales_summary" and job.params == SALES_PARAMS
    assert job.schedule == schedule and job.status == Job.Status.QUEUED
    schedule.refresh_from_db()
    assert schedule.last_job == job and schedule.last_run_at and not schedule.last_skip_reason


def test_each_run_of_a_relative_period_covers_the_days_before_it_in_the_schedules_zone(user, settings, monkeypatch):
    settings.OFFLOAD_MAX_ACTIVE_JOBS = 10
    settings.OFFLOAD_DEMO_LAST_DAY = ""  # the demo shop's calendar moves, as it does outside tests
    params = {"period": "last_7_days", "group_by": "region", "metric": "orders"}
    auckland = schedules.Timing("daily", "Pacific/Auckland", time(7, 0))
    honolulu = schedules.Timing("daily", "Pacific/Honolulu", time(7, 0))
    made = {}
    for now in (datetime(2027, 3, 15, 9, 30, tzinfo=UTC), datetime(2027, 4, 2, 9, 30, tzinfo=UTC)):
        monkeypatch.setattr(timezone, "now", lambda now=now: now)
        for timing in (auckland, honolulu):
            schedule = schedules.save_schedule(user, timing.time_zone, "sales_summary", params, timing, False)
            job = Job.objects.get(pk=run_scheduled_report(str(schedule.pk)))
            made[now.day, timing.time_zone] = (job.params["date_from"], job.params["date_to"])
            assert job.params["period"] == "last_7_days"
            schedules.delete_schedule(schedule)
    # 09:30 UTC on 15 March is the evening of the 15th in Auckland, still the 14th in Honolulu.
    assert made[15, "Pacific/Auckland"] == ("2027-03-08", "2027-03-14")
    assert made[15, "Pacific/Honolulu"] == ("2027-03-07", "2027-03-13")
    assert made[2, "Pacific/Auckland"] == ("2027-03-26", "2027-04-01")


def test_a_relative_period_runs_on_the_pinned_demo_calendar_as_on_its_next_day(user, settings):
    settings.OFFLOAD_DEMO_LAST_DAY = "2025-12-31"
    params = {"period": "last_month", "group_by": "region", "metric": "orders"}
    schedule = schedules.save_schedule(user, "Pinned", "sales_summary", params, DAILY_AT_7, False)
    job = Job.objects.get(pk=run_scheduled_report(str(schedule.pk)))
    assert (job.params["date_from"], job.params["date_to"]) == ("2025-12-01", "2025-12-31")


def test_a_scheduled_run_at_the_active_job_limit_is_skipped_and_says_so(user, settings):
    settings.OFFLOAD_MAX_ACTIVE_JOBS = 1
    Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.RUNNING)
    schedule = make_schedule(user)
    assert run_scheduled_report(str(schedule.pk)) == "skipped"
    schedule.refresh_from_db()
    assert schedule.last_job is None and "Skipped" in schedule.last_skip_reason
    assert Job.objects.filter(schedule=schedule).count() == 0


def test_a_paused_or_deleted_schedule_makes_no_job(user):
    schedule = make_schedule(user)
    schedules.set_paused(schedule, True)
    assert run_scheduled_report(str(schedule.pk)) == "paused"
    schedules.delete_schedule(schedule)
    assert run_scheduled_report(str(schedule.pk)) == "missing"
    assert not Job.objects.exists()


# --- Pages --------------------------------------------------------------------------------------


def test_creating_a_daily_schedule_from_the_form(owner_client, user):
    response = owner_client.post(reverse("schedule_new"), {**FORM, "frequency": "daily", "time_of_day": "07:00"})
    assert response.status_code == 303 and response["Location"] == reverse("schedule_list")
    schedule = ReportSchedule.objects.get(owner=user)
    assert (
        schedule.params == SALES_PARAMS and schedule.time_zone == "Europe/Paris" and schedule.time_of_day == time(7, 0)
    )
    page = owner_client.get(reverse("schedule_list")).content.decode()
    assert "Monday numbers" in page and "Every day at 07:00 (Europe/Paris)" in page
    assert ", 07:00</time>" in page  # the next run in the schedule's zone, not the server's


def test_a_schedule_keeps_a_relative_period_and_says_so_in_the_list(owner_client, user):
    form = {**FORM, "period": "last_7_days", "frequency": "daily", "time_of_day": "07:00"}
    assert owner_client.post(reverse("schedule_new"), form).status_code == 303
    schedule = ReportSchedule.objects.get(owner=user)
    assert schedule.params == {"period": "last_7_days", "group_by": "region", "metric": "orders"}
    page = owner_client.get(reverse("schedule_list")).content.decode()
    assert "Orders by region, the last 7 days" in page
    edit = owner_client.get(reverse("schedule_edit", args=[schedule.pk])).content.decode()
    assert '<option value="last_7_days" selected>' in edit


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"frequency": "daily", "time_of_day": ""}, "time_of_day", "Pick the time of day"),
        ({"frequency": "crontab", "crontab_expression": "0 7 * *"}, "crontab_expression", "five fields"),
        (
            {"frequency": "crontab", "crontab_expression": "0 25 * * *"},
            "crontab_expression",
            "The hour field “25” is not valid: it takes 0–23",
        ),
        (
            {"frequency": "crontab", "crontab_expression": "0 7 * * 9"},
            "crontab_expression",
            "The day of the week field “9” is not valid",
        ),
        ({"frequency": "daily", "time_of_day": "07:00", "time_zone": "Mars/Olympus"}, "time_zone", "valid choice"),
        ({"frequency": "hourly", "time_of_day": "07:00"}, "frequency", "valid choice"),
    ],
)
def test_bad_schedule_input_is_explained_and_saves_nothing(owner_client, fields, field, message):
    response = owner_client.post(reverse("schedule_new"), {**FORM, **fields})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not ReportSchedule.objects.exists() and not PeriodicTask.objects.filter(task=schedules.TASK_NAME).exists()


def test_editing_from_the_form_keeps_the_schedule_and_its_task(owner_client, user):
    schedule = make_schedule(user)
    form = owner_client.get(reverse("schedule_edit", args=[schedule.pk])).context["form"]
    assert form.initial["name"] == "Morning sales" and form.initial["frequency"] == "daily"
    response = owner_client.post(
        reverse("schedule_edit", args=[schedule.pk]),
        {**FORM, "frequency": "weekly", "weekday": "1", "time_of_day": "08:15"},
    )
    assert response.status_code == 303
    schedule.refresh_from_db()
    assert schedule.frequency == "weekly" and schedule.periodic_task.crontab.day_of_week == "1"
    assert ReportSchedule.objects.count() == 1


def test_pause_and_resume_from_the_list_swap_the_row(owner_client, user):
    schedule = make_schedule(user)
    paused = owner_client.post(reverse("schedule_pause", args=[schedule.pk]), **HTMX).content.decode()
    assert f'id="schedule-{schedule.pk}"' in paused and "Resume" in paused and "Paused" in paused
    resumed = owner_client.post(reverse("schedule_resume", args=[schedule.pk]), **HTMX).content.decode()
    assert "Pause" in resumed and PeriodicTask.objects.get(pk=schedule.periodic_task_id).enabled


def test_deleting_keeps_the_jobs_it_made(owner_client, user, django_capture_on_commit_callbacks):
    schedule = make_schedule(user)
    with django_capture_on_commit_callbacks(execute=True):
        job_id = run_scheduled_report(str(schedule.pk))
    response = owner_client.post(reverse("schedule_delete", args=[schedule.pk]))
    assert response.status_code == 303
    assert not ReportSchedule.objects.exists() and not PeriodicTask.objects.filter(task=schedules.TASK_NAME).exists()
    assert Job.objects.get(pk=job_id).schedule is None


def test_the_list_shows_the_last_run_with_its_status_and_a_link(owner_client, user, django_capture_on_commit_callbacks):
    schedule = make_schedule(user)
    with django_capture_on_commit_callbacks(execute=True):
        job_id = run_scheduled_report(str(schedule.pk))
    page = owner_client.get(reverse("schedule_list")).content.decode()
    assert f'href="/jobs/{job_id}/"' in page and "badge--queued" in page


@pytest.mark.parametrize(
    ("name", "method"),
    [("schedule_edit", "get"), ("schedule_edit", "post"), ("schedule_pause", "post"), ("schedule_resume", "post"),
     ("schedule_delete", "post")],
)  # fmt: skip
def test_another_users_schedule_is_404_everywhere(other_client, user, name, method):
    schedule = make_schedule(user)
    response = getattr(other_client, method)(reverse(name, args=[schedule.pk]), {**FORM, "frequency": "daily"})
    assert response.status_code == 404
    assert PeriodicTask.objects.get(pk=schedule.periodic_task_id).enabled
    assert ReportSchedule.objects.get(pk=schedule.pk).name == "Morning sales"


def test_the_list_shows_only_my_schedules(other_client, user):
    make_schedule(user, name="Ada's private numbers")
    assert "Ada&#x27;s private numbers" not in other_client.get(reverse("schedule_list")).content.decode()


def test_schedules_need_sign_in(client):
    response = client.get(reverse("schedule_list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "gap"),
    [("* * * * *", 1), ("*/5 * * * *", 5), ("0,30 * * * *", 30), ("0 7 * * *", 1440), ("50 23 * * *", 1440),
     ("55 23 * * *", 1440), ("0,55 23 * * *", 55), ("0 0,23 * * 1-5", 60)],
)  # fmt: skip
def test_the_shortest_gap_between_runs_of_a_crontab(expression, gap):
    assert schedules.shortest_gap(schedules.parse_crontab(expression)) == gap


def test_a_crontab_more_often_than_the_minimum_is_refused_and_says_the_limit(owner_client, settings):
    settings.OFFLOAD_MIN_SCHEDULE_MINUTES = 15
    form = {**FORM, "frequency": "crontab", "crontab_expression": "*/5 * * * *"}
    response = owner_client.post(reverse("schedule_new"), form)
    assert response.status_code == 400
    assert "This would run every 5 minutes; a schedule runs at most every 15 minutes." in response.content.decode()
    assert not ReportSchedule.objects.exists()
    assert "At most every 15 minutes." in owner_client.get(reverse("schedule_new")).content.decode()
    form["crontab_expression"] = "*/15 * * * *"
    assert owner_client.post(reverse("schedule_new"), form).status_code == 303


def test_a_person_at_the_schedule_limit_is_told_and_makes_no_more(owner_client, user, settings):
    settings.OFFLOAD_MAX_SCHEDULES = 2
    make_schedule(user, name="one")
    make_schedule(user, name="two")
    page = owner_client.get(reverse("schedule_new")).content.decode()
    assert "You have 2 schedules, the most one person may have." in page and "up to 2 schedules" in page
    response = owner_client.post(reverse("schedule_new"), {**FORM, "frequency": "daily", "time_of_day": "07:00"})
    assert response.status_code == 400 and "Delete one to make another." in response.content.decode()
    assert ReportSchedule.objects.filter(owner=user).count() == 2
    edit = ReportSchedule.objects.filter(owner=user).first()  # editing one is still fine
    changed = {**FORM, "name": "renamed", "frequency": "daily", "time_of_day": "08:00"}
    assert owner_client.post(reverse("schedule_edit", args=[edit.pk]), changed).status_code == 303
