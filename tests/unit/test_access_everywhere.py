"""Every URL of the app, found from the URLconf (so a new one cannot be forgotten): another
user's id is a 404, an anonymous visitor is sent to sign in (HX-Redirect for htmx), and every
state-changing request needs the CSRF token."""

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, reverse
from django.utils import timezone

from reports.engine import jobs, schedules
from reports.models import ImageItem, Job
from reports.urls import urlpatterns
from tests.support import HTMX, SALES_PARAMS, jpeg_bytes

pytestmark = pytest.mark.django_db

# URLs that hold no one's data, so they have nothing to hide from a signed-in user.
PUBLIC_TO_SIGNED_IN = {
    "home", "report_form", "job_list", "active_job_rows", "schedule_list", "schedule_new", "notices", "notice_dismiss",
    "user_events",
}  # fmt: skip
# The Operations pages and actions: a 404 for anyone without the view_operations permission.
STAFF_ONLY = {
    "operations", "operations_machinery", "operations_performance", "operations_queue", "operations_pool",
    "operations_recurring", "operations_run_now", "operations_search", "operations_job", "operations_download",
    "operations_job_retry", "operations_bulk", "operations_bulk_preview", "operations_bulk_start", "operations_bulk_action",
}  # fmt: skip
# An event stream cannot follow a redirect to the sign-in page: it is refused (404) instead.
STREAMS = {"job_events", "user_events"}


def app_urls() -> list[URLPattern]:
    return [pattern for pattern in urlpatterns if isinstance(pattern, URLPattern)]


@pytest.fixture
def owned(user, settings):
    """One of each thing the user owns: a finished job with a download and an image, a schedule."""
    job = Job.objects.create(
        owner=user, kind="image_batch", params={"options": {}, "count": 1}, status=Job.Status.SUCCEEDED,
        finished_at=timezone.now(),
    )  # fmt: skip
    artifact = jobs.save_artifact(job, "report.csv", "CSV", "text/csv", b"a\n")
    item = ImageItem(job=job, position=1, source_name="a.jpg", status=ImageItem.Status.DONE)
    item.original.save("a", ContentFile(jpeg_bytes(32, 24)), save=False)
    item.output.save("001.jpg", ContentFile(jpeg_bytes(32, 24)), save=False)
    item.preview.save("001-preview.jpg", ContentFile(jpeg_bytes(16, 12)), save=False)
    item.save()
    timing = schedules.Timing("daily", "UTC", timezone.now().time().replace(microsecond=0))
    schedule = schedules.save_schedule(user, "Mine", "sales_summary", SALES_PARAMS, timing, False)
    return {"job_id": job.pk, "name": artifact.name, "position": 1, "schedule_id": schedule.pk, "slug": "sales-summary",
            "queue": "reports", "action": "pause", "worker": "w1@host", "task_id": schedule.periodic_task_id,
            "bulk_id": job.pk}  # fmt: skip


def url_for(pattern: URLPattern, owned: dict) -> str:
    names = pattern.pattern.converters.keys()
    return reverse(pattern.name, kwargs={name: owned[name] for name in names})


def owned_urls(owned) -> list[str]:
    return [url_for(p, owned) for p in app_urls() if p.name not in PUBLIC_TO_SIGNED_IN | STAFF_ONLY]


def test_every_url_is_covered_here():
    names = {pattern.name for pattern in app_urls()}
    with_ids = {p.name for p in app_urls() if {"job_id", "schedule_id"} & set(p.pattern.converters)}
    assert with_ids - STAFF_ONLY == names - PUBLIC_TO_SIGNED_IN - STAFF_ONLY  # everything else names an owned thing


def test_another_users_ids_are_404_on_every_url_for_get_and_post(other_client, owned):
    for url in owned_urls(owned):
        statuses = {method: getattr(other_client, method)(url, **HTMX).status_code for method in ("get", "post")}
        # 404 for the method the URL takes; the other may be 405, which reveals nothing either.
        assert 404 in statuses.values() and set(statuses.values()) <= {404, 405}, f"{url}: {statuses}"
    assert Job.objects.filter(pk=owned["job_id"], status=Job.Status.SUCCEEDED).exists()  # nothing changed


def test_the_owner_reaches_every_one_of_those_urls(owner_client, owned):
    for url in owned_urls(owned):
        if "/delete/" in url:
            continue  # would remove what the others need; its owner test is elsewhere
        status = owner_client.get(url).status_code
        # 204: the stream URL, under the test client's WSGI handler (no streaming: the page polls).
        assert status in (200, 204, 302, 405), f"GET {url} gave {status}"


def test_anonymous_visitors_are_sent_to_sign_in_everywhere(client, owned):
    login = reverse("login")
    for pattern in app_urls():
        url = url_for(pattern, owned)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if response.status_code == 405:
                continue
            if pattern.name in STREAMS:
                assert response.status_code == 404, f"{method} {url}"
                continue
            assert response.status_code == 302 and response["Location"].startswith(login), f"{method} {url}"
            htmx = getattr(client, method)(url, **HTMX)
            assert htmx.status_code == 200 and htmx["HX-Redirect"].startswith(login), f"htmx {method} {url}"


def test_every_state_changing_request_needs_the_csrf_token(user, owned):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    for pattern in app_urls():
        url = url_for(pattern, owned)
        response = strict.post(url, {**SALES_PARAMS, "name": "x", "frequency": "daily", "time_of_day": "07:00"}, **HTMX)
        if response.status_code == 405:
            continue  # GET only: changes nothing
        assert response.status_code == 403, f"POST {url} without a token gave {response.status_code}"
    assert Job.objects.count() == 1 and Job.objects.get().status == Job.Status.SUCCEEDED


def test_staff_pages_are_404_for_everyone_else(owner_client, owned):
    for pattern in app_urls():
        if pattern.name in STAFF_ONLY:
            url = url_for(pattern, owned)
            assert {owner_client.get(url).status_code, owner_client.post(url).status_code} <= {404, 405}, url
