"""The Operations page in a real browser: an operator pauses and resumes a queue and finds a job;
a read-only operator sees the same page without a single control."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from reports.engine import jobs
from reports.models import AuditEntry, Job
from reports.operations import controls
from tests.support import SALES_PARAMS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


def member(name: str, group: str):
    user = get_user_model().objects.create_user(name, password=PASSWORD)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture(autouse=True)
def nothing_paused(broker):
    """The suite's shared worker may be running: whatever a test paused is resumed for it."""
    yield
    for queue in controls.paused_queues() or ():
        controls.resume(queue)


def test_an_operator_pauses_and_resumes_a_queue_and_finds_anyones_job(page, live_server, user, broker):
    member("olga", "Operators")
    job = Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.RUNNING)
    jobs.fail(job.pk, "The warehouse table was locked.", "C0FFEE00")
    sign_in(page, live_server, "olga", PASSWORD)
    page.get_by_role("link", name="Operations").click()
    page.get_by_role("button", name="Pause the reports queue").click()
    expect(page.get_by_role("status").filter(has_text="Queue reports paused")).to_be_visible()
    expect(page.get_by_role("button", name="Resume the reports queue")).to_be_visible()
    page.get_by_role("button", name="Resume the reports queue").click()
    expect(page.get_by_role("button", name="Pause the reports queue")).to_be_visible()
    assert list(AuditEntry.objects.order_by("created_at").values_list("action", flat=True)) == [
        "Queue reports paused", "Queue reports resumed",
    ]  # fmt: skip

    page.get_by_label("Job id, task id, owner, reference or words of an error").fill("c0ffee00")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Sales summary").click()
    expect(page.get_by_text("The warehouse table was locked.").first).to_be_visible()
    expect(page.get_by_text("ada", exact=True)).to_be_visible()


def test_a_read_only_operator_sees_the_page_without_a_control(page, live_server):
    member("rita", "Operators (read-only)")
    sign_in(page, live_server, "rita", PASSWORD)
    page.goto(f"{live_server.url}/operations/")
    expect(page.get_by_text("Your role can look, not act.")).to_be_visible()
    expect(page.get_by_role("heading", name="Queues")).to_be_visible()
    expect(page.get_by_role("heading", name="Recurring work")).to_be_visible()
    expect(page.get_by_role("table").first).to_be_visible()
    assert page.get_by_role("button", name="Pause the reports queue").count() == 0
    assert page.get_by_role("button", name="Run now").count() == 0


def test_an_operator_counts_confirms_and_watches_a_bulk_delete_to_the_end(
    page, live_server, user, celery_worker_process
):
    member("olga", "Operators")
    finished = [Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.RUNNING)
                for _ in range(3)]  # fmt: skip
    for job in finished:
        jobs.fail(job.pk, "The warehouse table was locked.")
    sign_in(page, live_server, "olga", PASSWORD)
    page.goto(f"{live_server.url}/operations/")
    page.get_by_role("link", name="Bulk actions").click()
    page.get_by_label("Action", exact=True).select_option("delete")
    page.get_by_label("Owner's username").fill("nobody")
    page.get_by_role("button", name="Count the jobs").click()
    expect(page.get_by_text("No one is called “nobody”")).to_be_visible()  # explained in place

    page.get_by_label("Owner's username").fill("ada")
    page.get_by_label("Error contains").fill("warehouse")
    page.get_by_role("button", name="Count the jobs").click()
    expect(page.get_by_text("Delete 3 finished jobs?")).to_be_visible()
    assert Job.objects.filter(owner=user).count() == 3  # counting changes nothing
    page.get_by_role("button", name="Delete 3 jobs").click()
    expect(page.get_by_text("3 of 3 deleted")).to_be_visible(timeout=30_000)
    assert not Job.objects.filter(owner=user).exists()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.jobs) == ("Delete finished jobs", 3)
