"""Every page and state a person meets, checked by axe-core (WCAG 2.x A and AA, and axe's best
practices) in Chromium: zero violations, and the test names each new one with where it is."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from playwright.sync_api import expect

from reports.engine import jobs
from reports.models import Job
from tests.browser.axe import described, violations
from tests.fault_injection import FAULT
from tests.support import SALES_PARAMS, csv_bytes, jpeg_bytes, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def checked(browser):
    """A page in a context that lets axe in (bypass_csp), and what axe found, by state."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    found: dict[str, list[dict]] = {}

    def check(state: str) -> None:
        page.wait_for_load_state("load")
        problems = violations(page)
        if problems:
            found[state] = problems

    yield page, check, found
    context.close()


def without_browser_validation(page) -> None:
    """Submit as a browser that does not check `required` would: the server's messages are the state."""
    page.evaluate("document.querySelectorAll('form').forEach(form => form.noValidate = true)")


def test_signing_in_and_the_forms_clean_and_with_errors(checked, live_server, user):
    page, check, found = checked
    user.user_permissions.add(Permission.objects.get(codename="send_mailing"))
    page.goto(f"{live_server.url}/accounts/login/")
    check("sign-in")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "wrong password")
    page.click("button:has-text('Sign in')")
    expect(page.locator(".errorlist, .alert--error").first).to_be_visible()
    check("sign-in with an error")

    sign_in(page, live_server)
    check("home")
    for slug in ("sales-summary", "csv-profile", "images", "mailing"):
        page.goto(f"{live_server.url}/reports/{slug}/")
        check(f"the {slug} form")
        without_browser_validation(page)
        if slug == "sales-summary":
            page.fill("#id_date_from", "2025-03-01")
            page.fill("#id_date_to", "2025-01-01")
        page.locator("form button[type=submit]").last.click()
        expect(page.locator(".errorlist").first).to_be_visible()
        check(f"the {slug} form with errors")

    page.goto(f"{live_server.url}/schedules/new/")
    check("a new schedule's form")
    without_browser_validation(page)
    page.fill("#id_name", "")
    page.locator("form button[type=submit]").last.click()
    expect(page.locator(".errorlist").first).to_be_visible()
    check("a schedule's form with errors")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the nav wraps, tables narrow
    for path, state in [("/", "home on a phone"), ("/reports/sales-summary/", "a form on a phone"),
                        ("/jobs/", "My jobs on a phone"), ("/schedules/", "Schedules on a phone")]:  # fmt: skip
        page.goto(f"{live_server.url}{path}")
        check(state)
    assert not found, "axe found:\n" + described(found)


def test_jobs_queued_running_and_ended_my_jobs_notices_and_operations(
    checked, live_server, user, celery_worker_process, tmp_path
):
    page, check, found = checked
    user.groups.add(Group.objects.get(name="Operators"))
    user.user_permissions.add(Permission.objects.get(codename="send_mailing"))
    sign_in(page, live_server)

    queued = Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.QUEUED)
    page.goto(f"{live_server.url}{queued.get_absolute_url()}")
    check("a queued job")
    running = Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.RUNNING,
                                 started_at=timezone.now(), progress=40, step="Grouping the orders")  # fmt: skip
    page.goto(f"{live_server.url}{running.get_absolute_url()}")
    expect(page.get_by_role("progressbar")).to_be_visible()
    check("a running job")
    jobs.fail(running.pk, "The demo data could not be read.", "ABCD1234")
    jobs.cancel(queued)

    # A job of each kind, run by the worker to its end.
    page.goto(f"{live_server.url}/reports/sales-summary/")
    page.click("button:has-text('Generate report')")
    expect(page.locator(".result table")).to_be_visible(timeout=60_000)
    check("a finished sales summary")

    data = tmp_path / "cities.csv"
    data.write_bytes(csv_bytes(["city", "population", "founded"], [["Oslo", 709000, 1048], ["Lima", 10000000, 1535]]))
    page.goto(f"{live_server.url}/reports/csv-profile/")
    page.set_input_files("#id_file", str(data))
    page.click("button:has-text('Generate report')")
    expect(page.locator(".columns-grid")).to_be_visible(timeout=60_000)
    check("a finished CSV profile")

    good, broken = tmp_path / "good.jpg", tmp_path / "broken.jpg"
    good.write_bytes(jpeg_bytes(800, 600))
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    page.goto(f"{live_server.url}/reports/images/")
    page.set_input_files("#id_images", [str(good), str(broken)])
    page.click("button:has-text('Generate report')")
    expect(page.locator(".result .tiles")).to_be_visible(timeout=60_000)
    check("an image batch with a failure")

    people = tmp_path / "people.csv"
    people.write_bytes(csv_bytes(["email", "first_name"], [["ada@example.com", "Ada"], ["not an address", "Bob"]]))
    page.goto(f"{live_server.url}/reports/mailing/")
    page.set_input_files("#id_recipients", str(people))
    page.locator("button[name=preview]").click()
    expect(page.get_by_text("ada@example.com").first).to_be_visible()
    check("a mailing's preview")
    page.click("button:has-text('Send the mailing')")
    expect(page.locator(".result")).to_be_visible(timeout=60_000)
    check("a finished mailing")

    page.goto(f"{live_server.url}{running.get_absolute_url()}")
    check("a failed job")
    page.goto(f"{live_server.url}{queued.get_absolute_url()}")
    check("a cancelled job")

    page.goto(f"{live_server.url}/jobs/")
    check("My jobs")
    ended_elsewhere = Job.objects.create(
        owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.RUNNING
    )
    jobs.succeed(ended_elsewhere.pk, {"rows": []})
    page.goto(f"{live_server.url}/schedules/")
    expect(page.locator(".notice").first).to_be_visible()
    check("Schedules, with a notice")

    for path, state in [("/operations/", "Operations"), (f"/operations/jobs/{running.pk}/", "a job on Operations"),
                        ("/operations/bulk/", "bulk actions"), ("/operations/performance/", "Performance"),
                        ("/operations/search/?q=ada", "a search on Operations")]:  # fmt: skip
        page.goto(f"{live_server.url}{path}")
        check(state)
    assert not found, "axe found:\n" + described(found)


def test_the_checker_sees_a_violation(checked, live_server):
    page, check, found = checked
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate("document.querySelector('label').remove()")  # a field without its label
    check("a broken sign-in")
    assert "label" in {problem["id"] for problem in found["a broken sign-in"]}


def test_with_the_keyboard_alone_a_report_is_started_followed_and_run_again(
    checked, live_server, user, celery_worker_process
):
    page, check, found = checked
    sign_in(page, live_server)

    def tab_to(name: str, limit: int = 40) -> None:
        """Press Tab until the focused element's text or label is `name`; every step shows a focus ring."""
        for _ in range(limit):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                "() => { const e = document.activeElement;"
                " return [(e.innerText || e.value || e.getAttribute('aria-label') || '').trim(),"
                " getComputedStyle(e).outlineStyle]; }"
            )
            if name in focused[0]:
                assert focused[1] != "none", f"no focus ring on {name!r}"
                return
        raise AssertionError(f"{name!r} is not reachable with Tab")

    tab_to("Sales summary")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/reports/sales-summary/")
    tab_to("Generate report")
    page.keyboard.press("Enter")
    expect(page.locator(".result table")).to_be_visible(timeout=60_000)
    expect(page.locator(".job__summary")).to_be_focused()  # the end, where the keyboard is
    tab_to("Run again")
    page.keyboard.press("Enter")
    expect(page.get_by_role("progressbar")).to_be_visible()
    assert Job.objects.filter(owner=user).count() == 2


def test_after_generate_the_keyboard_is_on_the_new_job_not_lost(checked, live_server, user, empty_broker):
    page, check, found = checked
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/reports/sales-summary/")
    page.get_by_role("button", name="Generate report").focus()
    page.keyboard.press("Enter")  # no worker here: the job stays queued
    expect(page.get_by_role("progressbar")).to_be_visible()
    expect(page.locator(".job__summary")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.job') !== null")  # the job's own controls come next


def focus_survives_updates(page, button, bar) -> None:
    """Put the keyboard on `button`, let the live updates replace it (the bar moves twice), and
    find the keyboard on the new button: the old element is gone, the focus is not."""
    expect(button).to_be_visible()
    button.focus()
    page.evaluate("window.focusedBefore = document.activeElement")
    seen = {bar.get_attribute("aria-valuenow")}
    for _ in range(300):
        if len(seen) >= 3:
            break
        page.wait_for_timeout(100)
        seen.add(bar.get_attribute("aria-valuenow"))
    assert len(seen) >= 3, f"the bar never moved twice: {seen}"
    assert page.evaluate("document.activeElement !== window.focusedBefore")  # replaced by an update
    expect(button).to_be_focused()
    # htmx 2 wires a swapped-in form up when the swap settles (20 ms later); a person's key
    # press inside that window would submit it natively. Wait for the settle, as a hand would.
    page.wait_for_function("!document.querySelector('.htmx-added, .htmx-settling')")


@pytest.mark.parametrize("server", ["live_server", "asgi_server"])  # polled (WSGI), pushed (ASGI)
def test_the_keyboard_stays_on_cancel_through_live_updates_and_lands_on_the_result(
    request, page, server, user, celery_worker_process
):
    server = request.getfixturevalue(server)
    sign_in(page, server)
    job = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow:8"})
    page.goto(f"{server.url}/jobs/{job.pk}/")
    expect(page.locator(".job--running")).to_be_visible(timeout=30_000)
    focus_survives_updates(
        page, page.locator(f"#job-{job.pk}").get_by_role("button", name="Cancel"), page.get_by_role("progressbar")
    )
    page.keyboard.press("Enter")
    expect(page.get_by_text("This job was cancelled.")).to_be_visible()
    expect(page.locator(".job__summary")).to_be_focused()


def test_the_keyboard_stays_on_a_rows_cancel_in_my_jobs(page, live_server, user, celery_worker_process):
    sign_in(page, live_server)
    job = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow:8"})
    page.goto(f"{live_server.url}/jobs/")
    row = page.locator(f"#job-row-{job.pk}")
    expect(row.locator(".badge--running")).to_be_visible(timeout=30_000)
    focus_survives_updates(page, row.get_by_role("button", name="Cancel"), row.get_by_role("progressbar"))


def test_the_progress_bar_reads_at_200_percent_zoom_and_in_forced_colours(browser, live_server, user):
    # 200 % zoom is a viewport half as wide in CSS pixels; forced colours is Windows' high contrast.
    context = browser.new_context(viewport={"width": 640, "height": 450}, device_scale_factor=2, forced_colors="active")
    page = context.new_page()
    try:
        sign_in(page, live_server)
        running = Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.RUNNING,
                                     started_at=timezone.now(), progress=40, step="Grouping the orders")  # fmt: skip
        page.goto(f"{live_server.url}{running.get_absolute_url()}")
        bar = page.locator(".progress__bar")
        expect(bar).to_be_visible()
        fill = bar.evaluate("e => [getComputedStyle(e).backgroundColor, e.getBoundingClientRect().width]")
        track = page.locator(".progress").evaluate(
            "e => [getComputedStyle(e).borderTopStyle, e.getBoundingClientRect().width]"
        )
        assert fill[0] not in ("rgba(0, 0, 0, 0)", "transparent") and 0 < fill[1] < track[1]
        assert track[0] == "solid"  # the track's outline shows where 100 % is
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")  # nothing scrolls sideways
    finally:
        context.close()
