"""Every view: anonymous, owner, other user, bad input, htmx and plain requests, query counts."""

import re
import uuid

import pytest
import redis
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from reports.engine import jobs
from reports.models import Job
from tests.support import HTMX, csv_upload, people_csv

pytestmark = pytest.mark.django_db

SALES_FORM = {"date_from": "2025-01-01", "date_to": "2025-06-30", "group_by": "month", "metric": "orders"}
SALES_PARAMS = {"date_from": "2025-01-01", "date_to": "2025-06-30", "group_by": "month", "metric": "orders"}


@pytest.fixture(autouse=True)
def empty_queue(broker):
    yield
    redis.Redis.from_url(broker.url).flushdb()


def make_job(owner, status=Job.Status.RUNNING, **fields) -> Job:
    fields.setdefault("params", SALES_PARAMS)
    return Job.objects.create(owner=owner, kind="sales_summary", status=status, **fields)


def finished_job(owner) -> Job:
    job = make_job(owner, Job.Status.RUNNING, started_at=timezone.now())
    jobs.save_artifact(job, "sales-summary.csv", "CSV", "text/csv", b"Month,Orders\n2025-01,3\n")
    jobs.succeed(job.pk, {
        "rows": [{"group": "2025-01", "orders": 3, "units": 4, "revenue": 10.0, "average_order_value": 3.33, "share": 100.0}],
        "totals": {"orders": 3, "units": 4, "revenue": 10.0, "average_order_value": 3.33},
        "subtitle": "Orders by month", "group_label": "Month", "metric": "orders", "metric_label": "Orders", "shows_share": True,
    })  # fmt: skip
    job.refresh_from_db()
    return job


def job_urls(job: Job) -> list[str]:
    return [
        reverse("job_detail", args=[job.pk]),
        reverse("job_status", args=[job.pk]),
        reverse("artifact_download", args=[job.pk, "sales-summary.csv"]),
    ]


# --- Sign-in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/reports/sales-summary/", "/reports/csv-profile/"])
def test_pages_ask_anonymous_visitors_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={url}")


def test_job_urls_ask_anonymous_visitors_to_sign_in(client, user):
    job = finished_job(user)
    for url in job_urls(job):
        assert client.get(url).status_code == 302


def test_an_expired_session_on_a_polled_fragment_redirects_the_whole_page(client, user):
    job = make_job(user)
    page = reverse("job_detail", args=[job.pk])
    response = client.get(reverse("job_status", args=[job.pk]), HTTP_HX_CURRENT_URL=f"http://testserver{page}", **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/accounts/login/?next={page}"
    assert response.content == b""


def test_sign_in_page_renders(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content


def test_after_a_wrong_password_the_cursor_waits_in_the_password_field(client, user):
    page = client.post("/accounts/login/", {"username": "ada", "password": "wrong"}).content.decode()
    assert "Please enter a correct username and password" in page
    password = re.search(r"<input[^>]*name=\"password\"[^>]*>", page).group()
    username = re.search(r"<input[^>]*name=\"username\"[^>]*>", page).group()
    assert "autofocus" in password and "autofocus" not in username and 'value="ada"' in username


# --- Home ------------------------------------------------------------------------------------


def test_home_lists_report_kinds_and_only_my_recent_jobs(owner_client, user, other_user):
    make_job(user, params={**SALES_PARAMS, "group_by": "region"})
    make_job(other_user, params={**SALES_PARAMS, "group_by": "product"})
    response = owner_client.get("/")
    content = response.content.decode()
    assert "Sales summary" in content and "CSV profile" in content
    assert "by region" in content and "by product" not in content


# --- Report form -----------------------------------------------------------------------------


def test_report_form_renders_with_sensible_defaults(owner_client):
    response = owner_client.get("/reports/sales-summary/")
    assert response.status_code == 200
    assert b'value="2025-01-01"' in response.content and b'hx-post="/reports/sales-summary/"' in response.content


def test_unknown_report_kind_is_404(owner_client):
    assert owner_client.get("/reports/tea-leaves/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_plain_post_creates_a_job_and_redirects_to_its_page(owner_client, user):
    response = owner_client.post("/reports/sales-summary/", SALES_FORM)
    job = Job.objects.get(owner=user)
    assert response.status_code == 303
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.params == SALES_PARAMS and job.status == Job.Status.QUEUED


@pytest.mark.django_db(transaction=True)
def test_htmx_post_swaps_in_the_polling_status_fragment_and_pushes_the_job_url(owner_client, user):
    response = owner_client.post("/reports/sales-summary/", SALES_FORM, **HTMX)
    job = Job.objects.get(owner=user)
    content = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Push-Url"] == f"/jobs/{job.pk}/"
    assert f'hx-get="/jobs/{job.pk}/status/"' in content and 'hx-trigger="every 1s"' in content
    assert "<html" not in content


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({**SALES_FORM, "date_to": "2024-01-01"}, "end date is before the start date"),
        ({**SALES_FORM, "date_from": "2031-01-01", "date_to": "2031-02-01"}, "demo data covers"),
        ({**SALES_FORM, "group_by": "weather"}, "Select a valid choice"),
        ({**SALES_FORM, "date_from": "yesterday"}, "Enter a valid date"),
    ],
)
def test_invalid_parameters_are_explained_in_the_form(owner_client, form, message):
    response = owner_client.post("/reports/sales-summary/", form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_relative_period_becomes_the_dates_it_covers_today(owner_client, user):
    # The test calendar is pinned (conftest): its last day is 2025-12-31, so "today" is 1 Jan 2026.
    # A stray date in the hidden fields is ignored, not reported.
    form = {**SALES_FORM, "period": "last_month", "date_from": "not a date"}
    assert owner_client.post("/reports/sales-summary/", form).status_code == 303
    job = Job.objects.get(owner=user)
    assert job.params == {**SALES_PARAMS, "period": "last_month", "date_from": "2025-12-01", "date_to": "2025-12-31"}
    page = owner_client.get(job.get_absolute_url()).content.decode()
    assert "Orders by month, last month (1 Dec 2025 to 31 Dec 2025)" in page


def test_the_dates_below_need_both_dates(owner_client):
    response = owner_client.post("/reports/sales-summary/", {**SALES_FORM, "period": "dates", "date_to": ""})
    assert response.status_code == 400
    assert "Pick the last day, or a period." in response.content.decode()
    assert not Job.objects.exists()


def test_htmx_form_errors_replace_the_form_not_the_result_area(owner_client):
    response = owner_client.post("/reports/sales-summary/", {**SALES_FORM, "metric": "vibes"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#report-form" and response["HX-Reswap"] == "outerHTML"
    assert response.content.decode().lstrip().startswith("<form")
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_csv_upload_creates_a_profile_job(owner_client, user):
    response = owner_client.post("/reports/csv-profile/", {"file": csv_upload(people_csv(5), "people.csv")})
    job = Job.objects.get(owner=user)
    assert response.status_code == 303
    assert job.kind == "csv_profile"
    assert job.params["source_name"] == "people.csv"
    assert job.input_file.read() == people_csv(5)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The submitted file is empty"),
        (b"\x00\x01\x02binary", "binary file"),
        ("a,b\nä,ö\n".encode("utf-16"), "binary file"),
        ("a,b\nCafé,Crème\n".encode("cp1252"), "not UTF-8"),
        (b"a,b\n1,2\n3,4,5\n", "Row 3 has 3 fields"),
        (
            ",".join(f"c{i}" for i in range(1001)).encode() + b"\n" + b"1," * 1000 + b"1\n",
            "1,001 columns; a profile takes up to 1,000",
        ),
    ],
)
def test_bad_uploads_are_explained_in_the_form(owner_client, content, message):
    response = owner_client.post("/reports/csv-profile/", {"file": csv_upload(content)})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_a_file_over_the_size_limit_is_refused(owner_client, settings):
    settings.OFFLOAD_MAX_UPLOAD_MB = 1
    response = owner_client.post("/reports/csv-profile/", {"file": csv_upload(b"a,b\n" + b"1,2\n" * 300_000)})
    assert response.status_code == 400
    assert "the limit is 1.0\xa0MB" in response.content.decode()


def test_a_post_without_a_file_is_refused(owner_client):
    response = owner_client.post("/reports/csv-profile/", {})
    assert response.status_code == 400 and "This field is required" in response.content.decode()


def test_uploaded_names_are_shown_escaped(owner_client, user):
    job = Job.objects.create(
        owner=user,
        kind="csv_profile",
        params={"source_name": "<img src=x onerror=alert(1)>.csv", "source_size": 9},
    )
    content = owner_client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "<img src=x" not in content and "&lt;img src=x onerror=alert(1)&gt;.csv" in content


# --- Job page and status fragment ------------------------------------------------------------


def test_owner_sees_the_job_page_with_a_polling_fragment(owner_client, user):
    job = make_job(user, progress=42, step="Totalling by month", started_at=timezone.now())
    content = owner_client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert 'role="progressbar"' in content and 'aria-valuenow="42"' in content
    assert "Totalling by month" in content and 'aria-live="polite"' in content
    assert 'http-equiv="refresh"' in content  # inside <noscript>: the no-JavaScript fallback


def test_other_users_job_is_404_on_every_url(other_client, user):
    job = finished_job(user)
    for url in job_urls(job):
        assert other_client.get(url).status_code == 404
        assert other_client.get(url, **HTMX).status_code == 404


def test_unknown_job_id_is_404(owner_client):
    assert owner_client.get(reverse("job_detail", args=[uuid.uuid4()])).status_code == 404
    assert owner_client.get("/jobs/not-a-uuid/").status_code == 404


def test_status_fragment_polls_while_running(owner_client, user):
    job = make_job(user, progress=10, step="Reading")
    response = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX)
    content = response.content.decode()
    assert content.lstrip().startswith(f'<article id="job-{job.pk}"')
    assert 'hx-trigger="every 1s"' in content and 'hx-swap="outerHTML"' in content


def test_status_fragment_stops_polling_and_shows_the_result_when_done(owner_client, user):
    job = finished_job(user)
    content = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX).content.decode()
    assert "hx-get" not in content and "hx-trigger" not in content
    assert "<table" in content and "2025-01" in content
    assert reverse("artifact_download", args=[job.pk, "sales-summary.csv"]) in content


def test_the_poll_that_sees_the_end_takes_the_focus_and_announces_it_once(owner_client, user):
    job = finished_job(user)
    content = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX).content.decode()
    assert re.search(r'<h2 class="job__summary" tabindex="-1" autofocus>', content)
    assert '<p hx-swap-oob="innerHTML:#announcer">Your sales summary is ready.</p>' in content
    page = owner_client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "autofocus" not in page and page.count('id="announcer"') == 1  # a page load moves nothing


def test_a_running_jobs_poll_announces_nothing(owner_client, user):
    job = make_job(user, Job.Status.RUNNING)
    content = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX).content.decode()
    assert "announcer" not in content and "autofocus" not in content and "aria-live" not in content


def test_a_form_with_errors_puts_the_focus_on_the_first(owner_client):
    data = {"date_from": "2025-03-01", "date_to": "2025-01-01", "group_by": "nope", "metric": "orders"}
    content = owner_client.post(reverse("report_form", args=["sales-summary"]), data, **HTMX).content.decode()
    focused = re.findall(r"<(?:input|select)[^>]*autofocus[^>]*>", content)
    assert len(focused) == 1 and 'name="date_to"' in focused[0]  # the first on the page with an error


def test_failed_job_shows_the_message_and_reference_without_polling(owner_client, user):
    job = make_job(user, Job.Status.FAILED, error_message="The file is empty.", error_reference="AB12CD34")
    content = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX).content.decode()
    assert "The file is empty." in content and "AB12CD34" in content and "hx-get" not in content


def test_a_job_queued_for_long_hints_that_no_worker_is_running(owner_client, user):
    job = make_job(user, Job.Status.QUEUED, created_at=timezone.now() - timezone.timedelta(minutes=2))
    content = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX).content.decode()
    assert "No worker has picked this job up yet" in content


def test_plain_visit_to_the_status_url_goes_to_the_job_page(owner_client, user):
    job = make_job(user)
    response = owner_client.get(reverse("job_status", args=[job.pk]))
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"


@pytest.mark.parametrize("state", ["running", "finished"])
def test_polled_fragment_costs_a_constant_number_of_queries(owner_client, user, django_assert_num_queries, state):
    job = make_job(user) if state == "running" else finished_job(user)
    url = reverse("job_status", args=[job.pk])
    # session, user, job, then: a running job, whether a notice waits for another job (none, so
    # the notices are not read); a finished one, the notices of other jobs, its downloads and
    # whether another job is active (the page stops polling, so a notice poller may take over),
    # and the first time it is shown it is marked seen.
    with django_assert_num_queries(4 if state == "running" else 7):
        owner_client.get(url, **HTMX)
    for _ in range(3):
        Job.objects.filter(pk=job.pk).update(progress=50)
        with django_assert_num_queries(4 if state == "running" else 6):
            owner_client.get(url, **HTMX)


def test_a_poll_renders_no_form_tokens_and_leaves_the_csrf_cookie_alone(owner_client, user):
    job = make_job(user)
    page = owner_client.get(reverse("job_detail", args=[job.pk]))
    assert "csrfmiddlewaretoken" in page.content.decode()  # the forms work without JavaScript
    poll = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX)
    # htmx posts the fragment's forms with the page's token as a header (base.html).
    assert "Cancel" in poll.content.decode() and "csrfmiddlewaretoken" not in poll.content.decode()
    assert "csrftoken" not in poll.cookies


def test_a_poll_of_an_unchanged_job_is_answered_304_before_rendering(owner_client, user, django_assert_num_queries):
    job = make_job(user)
    url = reverse("job_status", args=[job.pk])
    first = owner_client.get(url, **HTMX)
    assert first.status_code == 200 and first["ETag"] and "no-cache" in first["Cache-Control"]
    assert "private" in first["Cache-Control"]
    with django_assert_num_queries(4):  # session, user, job, whether notices wait: nothing rendered
        again = owner_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"], **HTMX)
    assert again.status_code == 304 and again.content == b""
    Job.objects.filter(pk=job.pk).update(progress=job.progress + 10, step="Further on")
    moved = owner_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"], **HTMX)
    assert moved.status_code == 200 and "Further on" in moved.content.decode() and moved["ETag"] != first["ETag"]


def test_another_job_ending_changes_the_etag_so_its_notice_arrives(owner_client, user):
    job = make_job(user)
    url = reverse("job_status", args=[job.pk])
    first = owner_client.get(url, **HTMX)
    finished_job(user)
    response = owner_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"], **HTMX)
    assert response.status_code == 200 and "hx-swap-oob" in response.content.decode()


def test_a_queued_job_behind_others_polls_slower_than_a_running_one(
    owner_client, user, other_user, django_assert_num_queries
):
    make_job(other_user, Job.Status.QUEUED, created_at=timezone.now() - timezone.timedelta(seconds=5))
    queued = make_job(user, Job.Status.QUEUED)
    running = make_job(user)
    with django_assert_num_queries(5):  # session, user, job, jobs ahead (once), whether notices wait
        owner_client.get(reverse("job_status", args=[queued.pk]), **HTMX)
    assert 'hx-trigger="every 3s"' in owner_client.get(reverse("job_status", args=[queued.pk]), **HTMX).content.decode()
    assert (
        'hx-trigger="every 1s"' in owner_client.get(reverse("job_status", args=[running.pk]), **HTMX).content.decode()
    )


# --- Downloads -------------------------------------------------------------------------------


def test_download_is_an_attachment_that_is_never_sniffed(owner_client, user):
    job = finished_job(user)
    response = owner_client.get(reverse("artifact_download", args=[job.pk, "sales-summary.csv"]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="sales-summary.csv"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "text/csv"
    assert b"".join(response.streaming_content) == b"Month,Orders\n2025-01,3\n"


def test_unknown_download_name_is_404(owner_client, user):
    job = finished_job(user)
    assert owner_client.get(f"/jobs/{job.pk}/files/..%2F..%2Fproject%2Fsettings.py").status_code == 404
    assert owner_client.get(reverse("artifact_download", args=[job.pk, "secret.csv"])).status_code == 404


def test_outputs_are_not_reachable_as_public_media_urls(owner_client, user):
    job = finished_job(user)
    artifact = job.artifacts.get()
    artifact.file.save(artifact.name, ContentFile(b"x"), save=False)
    assert owner_client.get(f"/media/{artifact.file.name}").status_code == 404


def test_a_traversal_or_control_character_file_name_never_reaches_the_disk(owner_client, user):
    name = "../../../etc/\x07passwd\r\n.csv"
    response = owner_client.post("/reports/csv-profile/", {"file": csv_upload(people_csv(), name)}, **HTMX)
    assert response.status_code == 200
    job = Job.objects.get(owner=user)
    assert job.input_file.name == f"uploads/{job.pk}/input.csv"  # our name, in the job's own folder
    # Django keeps only the last part of a client's path; it is shown (escaped), never used as a path.
    assert "/" not in job.params["source_name"] and ".." not in job.params["source_name"].strip(".")


@pytest.mark.parametrize("url", ["/reports/sales-summary/", "/reports/csv-profile/", "/schedules/new/"])
def test_every_described_field_points_at_help_text_that_is_there(owner_client, url):
    page = owner_client.get(url).content.decode()
    described = re.findall(r'aria-describedby="([^"]+)"', page)
    assert described, url
    for ids in described:
        for element_id in ids.split():
            assert f'id="{element_id}"' in page, (url, element_id)


@pytest.mark.django_db(transaction=True)
def test_the_answer_to_generate_puts_the_keyboard_on_the_new_job(owner_client, user):
    content = owner_client.post("/reports/sales-summary/", SALES_FORM, **HTMX).content.decode()
    assert re.search(r'<h2 class="job__summary" tabindex="-1" autofocus>', content)
    poll = owner_client.get(reverse("job_status", args=[Job.objects.get(owner=user).pk]), **HTMX).content.decode()
    assert "autofocus" not in poll  # only the answer to the click: a poll leaves the focus where it is
