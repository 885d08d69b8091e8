"""Telling people a job has ended: an email if they asked, a notice on whatever page is open."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from reports.engine import jobs
from reports.engine.notifications import send_job_email
from reports.models import Job
from tests.support import HTMX, SALES_PARAMS

pytestmark = pytest.mark.django_db


def make_job(owner, status=Job.Status.RUNNING, **fields) -> Job:
    return Job.objects.create(owner=owner, kind="sales_summary", params=SALES_PARAMS, status=status, **fields)


def finish(job: Job) -> None:
    jobs.succeed(job.pk, {"rows": []})


# --- Email ---------------------------------------------------------------------------------------


def test_a_finished_job_emails_its_owner_when_asked(user, settings, monkeypatch, django_capture_on_commit_callbacks):
    user.email = "ada@example.com"
    user.save()
    queued = []
    monkeypatch.setattr("reports.engine.dispatch.send", lambda name, args: queued.append((name, *args)))
    job = make_job(user, notify_by_email=True)
    with django_capture_on_commit_callbacks(execute=True):
        finish(job)
    assert queued == [("reports.tasks.email_job_ended", str(job.pk))]
    assert send_job_email(job.pk)
    [message] = mail.outbox
    assert message.to == ["ada@example.com"] and "sales summary finished" in message.subject
    assert f"{settings.OFFLOAD_SITE_URL}/jobs/{job.pk}/" in message.body


def test_a_failure_email_carries_the_sentence_and_reference_not_the_traceback(user):
    user.email = "ada@example.com"
    user.save()
    job = make_job(user, notify_by_email=True)
    jobs.fail(job.pk, "The file has no header row.", "ABCD1234", detail="Traceback (most recent call last): secret")
    send_job_email(job.pk)
    [message] = mail.outbox
    assert "The file has no header row." in message.body and "ABCD1234" in message.body
    assert "Traceback" not in message.body


def test_no_email_unless_asked(user, monkeypatch, django_capture_on_commit_callbacks):
    user.email = "ada@example.com"
    user.save()
    queued = []
    monkeypatch.setattr("reports.engine.dispatch.send", lambda name, args: queued.append((name, *args)))
    with django_capture_on_commit_callbacks(execute=True):
        finish(make_job(user, notify_by_email=False))
    assert queued == []


def test_the_form_offers_the_email_only_when_the_account_has_an_address(owner_client, user):
    form = owner_client.get(reverse("report_form", args=["sales-summary"])).context["form"]
    assert form.fields["notify_by_email"].disabled
    user.email = "ada@example.com"
    user.save()
    form = owner_client.get(reverse("report_form", args=["sales-summary"])).context["form"]
    assert not form.fields["notify_by_email"].disabled and "ada@example.com" in form.fields["notify_by_email"].help_text


def test_asking_for_the_email_is_stored_on_the_job(owner_client, user, settings):
    settings.OFFLOAD_DEMO_ORDERS = 5_000
    user.email = "ada@example.com"
    user.save()
    owner_client.post(reverse("report_form", args=["sales-summary"]), {**SALES_PARAMS, "notify_by_email": "on"})
    assert Job.objects.get(owner=user).notify_by_email


# --- Notices -------------------------------------------------------------------------------------


def test_a_job_that_ended_elsewhere_shows_a_notice_on_the_next_poll_once(owner_client, user):
    watched = make_job(user)
    other = make_job(user)
    finish(other)
    poll = owner_client.get(reverse("job_status", args=[watched.pk]), **HTMX).content.decode()
    assert 'hx-swap-oob="afterbegin:#notice-list"' in poll
    assert "Your sales summary is ready" in poll and f'href="/jobs/{other.pk}/"' in poll
    again = owner_client.get(reverse("job_status", args=[watched.pk]), **HTMX).content.decode()
    assert "is ready" not in again


def test_a_page_that_does_not_poll_polls_for_notices_while_a_job_is_active(owner_client, user):
    job = make_job(user)
    page = owner_client.get(reverse("schedule_list")).content.decode()
    assert 'id="notice-poller"' in page and 'hx-get="/notices/"' in page
    finish(job)
    update = owner_client.get(reverse("notices"), **HTMX).content.decode()
    assert "Your sales summary is ready" in update
    assert 'hx-get="/notices/"' not in update  # nothing active any more: the poller stops


def test_no_notice_poller_when_nothing_is_active(owner_client, user):
    make_job(user, Job.Status.SUCCEEDED, notice_shown=True, finished_at=timezone.now())
    assert 'hx-get="/notices/"' not in owner_client.get(reverse("home")).content.decode()


def test_notices_cost_the_same_however_many_jobs_are_queued(user, django_assert_num_queries):
    from reports.engine.notifications import updates

    for count in (1, 40):
        Job.objects.all().delete()
        for _ in range(count):
            make_job(user, Job.Status.QUEUED)
        ended = make_job(user)
        finish(ended)
        # The notices waiting, whether anything is active; and marking the notice shown.
        with django_assert_num_queries(3):
            shown = updates(user, page_polls=False)
        assert [job.pk for job in shown["notices"]] == [ended.pk] and shown["poll"]
        with django_assert_num_queries(1):  # a page that polls anyway asks nothing about the active ones
            assert updates(user, page_polls=True) == {"notices": [], "poll": False}


def test_the_job_being_watched_gets_no_notice_of_its_own(owner_client, user):
    job = make_job(user)
    finish(job)
    final = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX).content.decode()
    assert "notice--" not in final  # its end is announced where it is watched, not as a notice
    assert "is ready" not in owner_client.get(reverse("home")).content.decode()


def test_a_job_cancelled_by_its_owner_gets_no_notice(owner_client, user):
    job = make_job(user)
    owner_client.post(reverse("job_cancel", args=[job.pk]), HTTP_HX_REQUEST="true", HTTP_HX_TARGET=f"job-row-{job.pk}")
    assert "was cancelled" not in owner_client.get(reverse("home")).content.decode()


def test_notices_are_only_about_my_jobs(other_client, user):
    finish(make_job(user))
    assert "is ready" not in other_client.get(reverse("home")).content.decode()


def test_a_failed_job_notice_says_so(owner_client, user):
    jobs.fail(make_job(user).pk, "Bad input.")
    page = owner_client.get(reverse("home")).content.decode()
    assert "Your sales summary failed" in page and "See what happened" in page


def test_rendering_marks_no_notice_shown_the_view_that_sends_it_does(owner_client, user, rf):
    from django.template.loader import render_to_string

    from reports.live.fragments import job_context, with_notices

    watched, other = make_job(user), make_job(user)
    finish(other)
    request = rf.get("/", HTTP_HX_REQUEST="true")
    request.user, request.htmx = user, True
    # A template given no notices shows none and leaves the page's area alone: nothing is marked.
    fragment = render_to_string("reports/job_detail.html#job-status", job_context(watched), request)
    assert "notice-list" not in fragment and "notice-poller" not in fragment
    assert not Job.objects.get(pk=other.pk).notice_shown
    # The view's (or stream's) with_notices finds and marks them; the template only renders them.
    context = with_notices(user, job_context(watched))
    assert Job.objects.get(pk=other.pk).notice_shown
    assert "Your sales summary is ready" in render_to_string("reports/job_detail.html#job-status", context, request)


def test_a_whole_page_shows_a_notice_once_and_marks_it(owner_client, user):
    finish(make_job(user))
    assert "Your sales summary is ready" in owner_client.get(reverse("schedule_list")).content.decode()
    assert "is ready" not in owner_client.get(reverse("home")).content.decode()


def test_a_notice_and_an_email_say_which_job_in_words(owner_client, user):
    user.email = "ada@example.com"
    user.save()
    job = Job.objects.create(owner=user, kind="csv_profile", status=Job.Status.RUNNING, notify_by_email=True,
                             params={"source_name": "cities.csv", "source_size": 2048, "separator": ","})  # fmt: skip
    finish(job)
    page = owner_client.get(reverse("schedule_list")).content.decode()
    assert "Your CSV profile is ready" in page and "cities.csv (2.0\xa0KB)" in page
    send_job_email(job.pk)
    [message] = mail.outbox
    assert message.subject == "Offload: your CSV profile finished" and "cities.csv (2.0\xa0KB)" in message.body


def test_a_notice_is_dismissed_by_a_button_that_works_with_or_without_javascript(owner_client, user):
    finish(make_job(user))
    page = owner_client.get(reverse("schedule_list")).content.decode()
    notice = page[page.index('class="notice notice--') :]
    notice = notice[: notice.index("</div>")]
    assert '<button type="submit" class="notice__close"' in notice and "Dismiss this notice" in notice
    assert 'type="checkbox"' not in notice and 'name="csrfmiddlewaretoken"' in notice  # a plain form too
    htmx = owner_client.post(reverse("notice_dismiss"), **HTMX)
    assert htmx.status_code == 200 and htmx.content == b""  # swapped for nothing
    back = owner_client.post(reverse("notice_dismiss"), HTTP_REFERER="http://testserver/schedules/")
    assert back.status_code == 303 and back["Location"] == "http://testserver/schedules/"
    elsewhere = owner_client.post(reverse("notice_dismiss"), HTTP_REFERER="https://evil.example/")
    assert elsewhere["Location"] == reverse("home")
