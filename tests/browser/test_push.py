"""Progress pushed to a real browser (Debian's Chromium) by uvicorn, and polling taking over
when the stream cannot open or drops."""

import time

import pytest
from playwright.sync_api import expect

from reports.engine import jobs
from reports.models import Job
from tests.conftest import start_asgi_server, stop_process
from tests.fault_injection import FAULT
from tests.support import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SALES_PARAMS = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}
# The fragment as a stream pushes it: its poller waits for the stream to fail (htmx 2 or 4's event).
PUSHED = ".job__poller[hx-trigger*='closest .job-live']"


def requests_to(page, part: str) -> list[str]:
    sent = []
    page.on("request", lambda request: sent.append(request.url) if part in request.url else None)
    return sent


def watch(page) -> dict[str, list[str]]:
    return {"polls": requests_to(page, "/status/"), "streams": requests_to(page, "/events/")}


def bar_values_until_the_result(page) -> set[str]:
    values = set()
    result = page.locator(".result table")
    for _ in range(600):
        if result.is_visible():
            return values
        # Read without waiting: the bar may be swapped away for the result between two looks.
        values.add(page.evaluate("document.querySelector('[role=progressbar]')?.getAttribute('aria-valuenow')"))
        page.wait_for_timeout(100)
    raise AssertionError("the result never appeared")


def test_the_bar_moves_by_push_with_no_polling_while_the_stream_is_open(page, asgi_server, celery_worker_process, user):
    sign_in(page, asgi_server)
    job = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow:5"})
    seen = watch(page)
    loads = []
    page.on("load", lambda _: loads.append(1))
    page.goto(f"{asgi_server.url}/jobs/{job.pk}/")
    expect(page.locator(PUSHED)).to_have_count(1)  # the stream's first push has replaced the polled fragment
    seen["polls"].clear()
    values = bar_values_until_the_result(page)
    assert len(values - {None}) >= 3, values  # the bar moved
    assert seen["polls"] == []  # ... with not one poll
    assert len(seen["streams"]) == 1 and len(loads) == 1  # one stream, no reload
    expect(page.locator(".job--succeeded")).to_be_visible()


def test_pushes_a_few_milliseconds_apart_are_none_of_them_lost(page, asgi_server, user):
    """A quick job's last changes come in a burst: a push must not land on a fragment mid-swap."""
    sign_in(page, asgi_server)
    job = Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS)  # no worker takes it
    page.goto(f"{asgi_server.url}/jobs/{job.pk}/")
    expect(page.locator(PUSHED)).to_have_count(1)
    # What a worker writes for a job that takes no time at all, as fast as it can.
    jobs.start(job.pk)
    jobs.set_progress(job.pk, 60, "Almost there")
    jobs.fail(job.pk, "Stopped on purpose by the test.")
    expect(page.get_by_text("Stopped on purpose by the test.")).to_be_visible(timeout=10_000)


def test_with_the_stream_blocked_polling_takes_over(page, asgi_server, celery_worker_process, user):
    sign_in(page, asgi_server)
    refused = []
    # A proxy that refuses event streams; the page must have tried this job's stream.
    page.route("**/events/", lambda route: (refused.append(route.request.url), route.abort()))
    job = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow:4"})
    seen = watch(page)
    page.goto(f"{asgi_server.url}/jobs/{job.pk}/")
    values = bar_values_until_the_result(page)
    assert len(values - {None}) >= 2, values
    assert len(seen["polls"]) >= 2 and any(f"/jobs/{job.pk}/events/" in url for url in refused), refused
    expect(page.locator(PUSHED)).to_have_count(0)


def test_the_stream_opens_when_the_extensions_script_arrives_late(page, asgi_server, user):
    """htmx 4 starts on a timer after a deferred script: the push extension, arriving after it,
    must still have its streams opened (it did not, now and then, while the scripts were deferred)."""
    sign_in(page, asgi_server)

    def late(route) -> None:
        time.sleep(0.5)
        route.continue_()

    page.route("**/*sse*.js", late)
    job = Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS)  # no worker takes it
    seen = watch(page)
    page.goto(f"{asgi_server.url}/jobs/{job.pk}/")
    expect(page.locator(PUSHED)).to_have_count(1)  # the stream opened and pushed
    assert any(f"/jobs/{job.pk}/events/" in url for url in seen["streams"])


def test_when_the_stream_drops_polling_takes_over(page, broker, celery_worker_process, user, tmp_path):
    server = start_asgi_server(broker.url, tmp_path / "uvicorn.log", OFFLOAD_STREAM_MAX_SECONDS=4)
    try:
        sign_in(page, server)
        opened = []

        def first_stream_only(route) -> None:
            opened.append(route.request.url)
            route.continue_() if len(opened) == 1 else route.abort()  # it cannot come back

        page.route("**/events/", first_stream_only)
        job = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow:12"})
        seen = watch(page)
        page.goto(f"{server.url}/jobs/{job.pk}/")
        expect(page.locator(PUSHED)).to_have_count(1)
        seen["polls"].clear()
        # The server ends the stream after 4 s (long enough to see it pushed on a busy machine); the page then
        # fetches its fragment, which polls again.
        expect(page.locator(PUSHED)).to_have_count(0, timeout=10_000)
        values = bar_values_until_the_result(page)
        assert len(values - {None}) >= 2, values
        assert len(seen["polls"]) >= 3 and len(opened) >= 2
    finally:
        stop_process(server)


def test_my_jobs_rows_move_by_push_with_no_polling(page, asgi_server, celery_worker_process, user):
    sign_in(page, asgi_server)
    job = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow:5"})
    polls = requests_to(page, "/jobs/active-rows/")
    page.goto(f"{asgi_server.url}/jobs/")
    expect(page.locator("#active-poller[hx-trigger*='from:#user-stream']")).to_have_count(1)  # pushed: it waits
    polls.clear()
    row = page.locator(f"#job-row-{job.pk}")
    values = set()
    for _ in range(600):
        if row.locator(".badge--succeeded").is_visible():
            break
        values.add(
            page.evaluate(
                f"document.querySelector('#job-row-{job.pk} [role=progressbar]')?.getAttribute('aria-valuenow')"
            )
        )
        page.wait_for_timeout(100)
    expect(row.locator(".badge--succeeded")).to_be_visible()
    assert len(values - {None}) >= 2, values  # the row's bar moved
    assert polls == []
    expect(page.locator("#active-poller[hx-get]")).to_have_count(0)  # nothing left to watch


def test_my_jobs_rows_poll_when_the_stream_is_blocked(page, asgi_server, celery_worker_process, user):
    sign_in(page, asgi_server)
    page.route("**/events/?ids=*", lambda route: route.abort())
    job = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow:3"})
    polls = requests_to(page, "/jobs/active-rows/")
    page.goto(f"{asgi_server.url}/jobs/")
    expect(page.locator(f"#job-row-{job.pk} .badge--succeeded")).to_be_visible(timeout=30_000)
    assert len(polls) >= 2


def test_a_notice_arrives_by_push_on_a_page_that_watches_no_job(page, asgi_server, user):
    sign_in(page, asgi_server)
    job = Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS)  # no worker takes it
    polls = requests_to(page, "/notices/")
    page.goto(f"{asgi_server.url}/schedules/")
    expect(page.locator("#notice-poller[hx-trigger*='from:#user-stream']")).to_have_count(1)
    jobs.cancel(job)
    expect(page.get_by_text("Your sales summary was cancelled")).to_be_visible(timeout=10_000)
    assert polls == []
    expect(page.locator("#notice-poller[hx-get]")).to_have_count(0)


def test_the_home_pages_running_row_ends_by_push_with_its_notice(page, asgi_server, user):
    sign_in(page, asgi_server)
    job = Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS)  # no worker takes it
    polls = requests_to(page, "/jobs/active-rows/")
    page.goto(f"{asgi_server.url}/")
    expect(page.locator("#active-poller[hx-trigger*='from:#user-stream']")).to_have_count(1)
    jobs.cancel(job)
    expect(page.locator(f"#job-row-{job.pk} .badge--cancelled")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("Your sales summary was cancelled")).to_be_visible()
    assert polls == []
