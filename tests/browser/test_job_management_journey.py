"""My jobs, notices and schedules, in a real browser against real workers."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reports.engine import jobs
from reports.models import Job, ReportSchedule
from tests.fault_injection import FAULT
from tests.support import settled, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SALES_PARAMS = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}


def test_my_jobs_updates_running_rows_with_one_poll_and_cancels_filters_and_deletes(
    page, live_server, user, celery_worker_process
):
    done = Job.objects.create(
        owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.SUCCEEDED,
        finished_at=timezone.now(), notice_shown=True,
    )  # fmt: skip
    slow = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow"})
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/jobs/")

    slow_row = page.locator(f"#job-row-{slow.pk}")
    bar = slow_row.get_by_role("progressbar")
    expect(bar).to_be_visible()
    first = bar.get_attribute("aria-valuenow")
    expect(bar).not_to_have_attribute("aria-valuenow", first, timeout=30_000)  # the row moves by itself
    polled = [url for url in requests if "/jobs/" in url and url != f"{live_server.url}/jobs/"]
    assert polled and all("/jobs/active-rows/" in url for url in polled), polled  # one poll for all rows

    settled(slow_row)
    slow_row.get_by_role("button", name="Cancel").click()
    expect(slow_row.locator(".badge")).to_have_text("Cancelled")
    expect(slow_row.get_by_role("progressbar")).to_have_count(0)

    page.select_option("select[name=status]", "cancelled")
    expect(page).to_have_url(re.compile(r"status=cancelled"))
    expect(page.locator(".job-row")).to_have_count(1)
    settled(page.locator("#job-table"))
    page.select_option("select[name=status]", "")
    expect(page.locator(".job-row")).to_have_count(2)

    settled(page.locator("#job-table"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#job-row-{done.pk}").get_by_role("button", name="Delete").click()
    expect(page.locator(f"#job-row-{done.pk}")).to_have_count(0)
    assert not Job.objects.filter(pk=done.pk).exists()


def test_the_job_pages_buttons_work_after_polls_replaced_them(page, live_server, user, celery_worker_process):
    """A polled fragment's forms carry no CSRF token of their own: htmx posts the page's."""
    slow = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow"})
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/jobs/{slow.pk}/")
    bar = page.locator(f"#job-{slow.pk}").get_by_role("progressbar")
    expect(bar).to_be_visible()
    first = bar.get_attribute("aria-valuenow")
    expect(bar).not_to_have_attribute("aria-valuenow", first, timeout=30_000)  # a poll replaced the card
    assert page.locator(f"#job-{slow.pk} input[name=csrfmiddlewaretoken]").count() == 0

    settled(page.locator(f"#job-{slow.pk}"))
    page.locator(f"#job-{slow.pk}").get_by_role("button", name="Cancel").click()
    expect(page.locator(f"#job-{slow.pk}")).to_contain_text("This job was cancelled.")
    page.locator(f"#job-{slow.pk}").get_by_role("button", name="Run again").click()
    expect(page).not_to_have_url(f"{live_server.url}/jobs/{slow.pk}/")
    again = Job.objects.exclude(pk=slow.pk).get(owner=user)
    expect(page).to_have_url(f"{live_server.url}/jobs/{again.pk}/")
    assert Job.objects.get(pk=slow.pk).status == Job.Status.CANCELLED


def test_a_job_that_ends_while_i_am_elsewhere_shows_a_notice_with_a_link(
    page, live_server, user, celery_worker_process
):
    sign_in(page, live_server)
    job = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow"})
    page.goto(f"{live_server.url}/")  # the start page polls for nothing but notices
    notice = page.locator(".notice")
    expect(notice).to_contain_text("Your sales summary is ready", timeout=60_000)
    notice.get_by_role("link", name="See the result").click()
    expect(page).to_have_url(f"{live_server.url}/jobs/{job.pk}/")
    expect(page.locator(".result table")).to_be_visible()
    expect(page.locator(".notice")).to_have_count(0)  # shown once


def test_a_notice_is_dismissed_from_the_keyboard(page, live_server, user):
    sign_in(page, live_server)
    job = jobs.create_job(user, "sales_summary", SALES_PARAMS)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED, finished_at=timezone.now(), result={})
    page.goto(f"{live_server.url}/schedules/")  # a whole page shows the notice
    dismiss = page.get_by_role("button", name="Dismiss this notice")
    expect(dismiss).to_have_count(1)
    dismiss.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".notice")).to_have_count(0)
    expect(page).to_have_url(f"{live_server.url}/schedules/")  # swapped out in place, no reload


def test_schedule_a_report_then_pause_resume_edit_and_delete_it(page, live_server, user):
    sign_in(page, live_server)
    page.click("nav >> text=Schedules")
    page.click("text=New schedule")

    crontab = page.locator("#id_crontab_expression")
    weekday = page.locator("#id_weekday")
    expect(crontab).to_be_hidden()  # daily: only the time shows
    expect(weekday).to_be_hidden()
    page.check("input[name=frequency][value=crontab]")
    expect(crontab).to_be_visible()
    expect(page.locator("#id_time_of_day")).to_be_hidden()
    page.check("input[name=frequency][value=weekly]")
    expect(weekday).to_be_visible()

    page.fill("#id_name", "Monday regions")
    page.select_option("#id_weekday", "1")
    page.fill("#id_time_of_day", "07:30")
    page.select_option("#id_time_zone", "Europe/Paris")
    page.click("button:has-text('Create schedule')")

    schedule = ReportSchedule.objects.get(owner=user)
    row = page.locator(f"#schedule-{schedule.pk}")
    expect(page.get_by_text("“Monday regions” is saved. Next run: Mon")).to_be_visible()
    expect(row).to_contain_text("Every Monday at 07:30 (Europe/Paris)")
    expect(row).to_contain_text("Not yet")

    row.get_by_role("button", name="Pause").click()
    expect(row.locator(".badge")).to_have_text("Paused")
    expect(row.locator("dd").first).to_have_text("Paused")  # no next run while paused
    row.get_by_role("button", name="Resume").click()
    expect(row.locator(".badge")).to_have_count(0)

    row.get_by_role("link", name="Edit").click()
    page.fill("#id_name", "Monday regions (EU)")
    page.click("button:has-text('Save changes')")
    expect(page.locator(f"#schedule-{schedule.pk}")).to_contain_text("Monday regions (EU)")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#schedule-{schedule.pk}").get_by_role("button", name="Delete").click()
    expect(page.locator(f"#schedule-{schedule.pk}")).to_have_count(0)
    assert not ReportSchedule.objects.exists()
