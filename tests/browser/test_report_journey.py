"""A person signs in, generates a report, watches the bar and gets the table and the CSV."""

import csv

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from reports.models import Job
from tests.support import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_generate_a_sales_summary_watch_it_and_download_the_csv(page, live_server, user, celery_worker_process):
    polls = []
    page.on("request", lambda request: polls.append(request.url) if request.url.endswith("/status/") else None)
    sign_in(page, live_server)
    page.click("text=Sales summary")
    page.select_option("#id_group_by", "product")
    page.click("button:has-text('Generate report')")

    bar = page.get_by_role("progressbar")
    expect(bar).to_be_visible()
    job = Job.objects.get(owner=user)
    expect(page).to_have_url(f"{live_server.url}/jobs/{job.pk}/")  # pushed by htmx, no reload

    table = page.locator(".result table")
    expect(table).to_be_visible(timeout=60_000)
    # The end is where the keyboard now is, and a screen reader hears it once.
    expect(page.locator(".job__summary")).to_be_focused()
    expect(page.locator("#announcer")).to_have_text("Your sales summary is ready.")
    expect(page.locator("#announcer")).to_have_count(1)
    expect(bar).to_have_count(0)
    assert polls, "the status fragment was never polled"
    expect(table.locator("tbody tr")).to_have_count(10)
    expect(page.locator(".chart img")).to_have_js_property("complete", True)
    assert page.locator(".chart img").evaluate("img => img.naturalWidth") > 0

    polls_when_done = len(polls)
    # Proving something does not happen needs a window: two more polls, had polling not stopped.
    page.wait_for_timeout(2500)
    assert len(polls) == polls_when_done

    with page.expect_download() as download_info:
        page.click("a:has-text('CSV')")
    download = download_info.value
    assert download.suggested_filename == "sales-summary.csv"
    with open(download.path(), encoding="utf-8-sig", newline="") as csv_file:
        assert next(csv.reader(csv_file))[:4] == ["Product", "Orders", "Units", "Revenue"]


def test_a_bad_upload_is_explained_in_place(page, live_server, user, tmp_path):
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/reports/csv-profile/")
    bad = tmp_path / "photo.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    page.set_input_files("#id_file", str(bad))
    page.click("button:has-text('Generate report')")
    expect(page.get_by_text("This is a binary file, not a CSV")).to_be_visible()
    expect(page.locator("#result .placeholder")).to_be_visible()  # the result area was not touched
    expect(page.locator("#id_file")).to_be_focused()  # the keyboard is where the problem is
    assert not Job.objects.exists()


def test_with_javascript_off_the_form_posts_and_the_job_page_refreshes_itself(
    browser, live_server, user, celery_worker_process, tmp_path
):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server)
        page.goto(f"{live_server.url}/reports/csv-profile/")
        data = tmp_path / "cities.csv"
        data.write_text("city,population\nOslo,709000\nLima,10000000\nPune,7000000\n")
        page.set_input_files("#id_file", str(data))
        page.click("button:has-text('Generate report')")
        job = Job.objects.get(owner=user)
        expect(page).to_have_url(f"{live_server.url}/jobs/{job.pk}/")  # the 303 after the POST
        # The <noscript> refresh reloads the page until the job has ended.
        expect(page.locator(".columns-grid")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("heading", name="population")).to_be_visible()
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-javascript"])
def test_a_large_upload_after_the_session_ended_lands_on_sign_in(browser, asgi_server, user, tmp_path, javascript):
    """The server answers before reading the 20 MB (reports/body_limit.py): the browser still
    shows the sign-in page, not a broken connection, and it leads back to the form."""
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    sign_in(page, asgi_server)
    page.goto(f"{asgi_server.url}/reports/csv-profile/")
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" + b"1,2\n" * 5_000_000)
    Session.objects.all().delete()  # signed out elsewhere, or the session expired
    page.set_input_files("input[type=file]", str(big))
    page.get_by_role("button", name="Generate report").click()
    expect(page).to_have_url(f"{asgi_server.url}/accounts/login/?next=/reports/csv-profile/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    context.close()
