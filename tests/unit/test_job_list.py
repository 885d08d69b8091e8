"""The My jobs page: only my jobs, filters, pages, and one poll for all running rows."""

import uuid

import pytest
from django.urls import reverse

from reports.models import Job
from tests.support import HTMX, SALES_PARAMS

pytestmark = pytest.mark.django_db


def make_job(owner, status=Job.Status.SUCCEEDED, kind="sales_summary") -> Job:
    params = SALES_PARAMS if kind == "sales_summary" else {"source_name": "people.csv", "source_size": 10}
    return Job.objects.create(owner=owner, kind=kind, params=params, status=status)


def test_anonymous_visitors_are_asked_to_sign_in(client):
    assert client.get(reverse("job_list")).status_code == 302
    response = client.get(reverse("active_job_rows"), **HTMX)
    assert response["HX-Redirect"].startswith("/accounts/login/")


def test_my_jobs_lists_only_mine_newest_first(owner_client, user, other_user):
    older, newer = make_job(user), make_job(user, kind="csv_profile")
    theirs = make_job(other_user)
    content = owner_client.get(reverse("job_list")).content.decode()
    assert content.index(f"job-row-{newer.pk}") < content.index(f"job-row-{older.pk}")
    assert f"job-row-{theirs.pk}" not in content


def test_filters_by_kind_and_status(owner_client, user):
    sales = make_job(user)
    failed_profile = make_job(user, Job.Status.FAILED, "csv_profile")
    content = owner_client.get(reverse("job_list"), {"kind": "csv_profile", "status": "failed"}).content.decode()
    assert f"job-row-{failed_profile.pk}" in content and f"job-row-{sales.pk}" not in content


def test_a_bad_filter_value_shows_everything_rather_than_an_error(owner_client, user):
    job = make_job(user)
    response = owner_client.get(reverse("job_list"), {"status": "exploded"})
    assert response.status_code == 200 and f"job-row-{job.pk}" in response.content.decode()


def test_htmx_filtering_swaps_only_the_table(owner_client, user):
    make_job(user)
    content = owner_client.get(reverse("job_list"), {"kind": "sales_summary"}, **HTMX).content.decode()
    assert content.lstrip().startswith('<div id="job-table">') and "<html" not in content


def test_the_back_button_to_a_filtered_list_gets_the_whole_page(owner_client, user):
    make_job(user)
    restore = {**HTMX, "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}  # htmx 4 always, htmx 2 on a cache miss
    content = owner_client.get(reverse("job_list"), {"kind": "sales_summary"}, **restore).content.decode()
    assert "<html" in content and 'id="job-table"' in content


def test_jobs_are_paginated_keeping_the_filters(owner_client, user):
    for _ in range(25):
        make_job(user)
    first = owner_client.get(reverse("job_list"), {"kind": "sales_summary"}).content.decode()
    assert first.count('class="job-row"') == 20
    assert "?kind=sales_summary&amp;page=2" in first
    second = owner_client.get(reverse("job_list"), {"kind": "sales_summary", "page": 2}).content.decode()
    assert second.count('class="job-row"') == 5


def test_running_rows_are_refreshed_by_one_poller(owner_client, user):
    running, queued, done = make_job(user, Job.Status.RUNNING), make_job(user, Job.Status.QUEUED), make_job(user)
    content = owner_client.get(reverse("job_list")).content.decode()
    assert content.count('hx-trigger="every 1s"') == 1
    poll_url = f"/jobs/active-rows/?ids={queued.pk},{running.pk}"
    assert poll_url in content or f"/jobs/active-rows/?ids={running.pk},{queued.pk}" in content
    assert str(done.pk) not in content.split('id="active-poller"')[1].split(">")[0]


def test_a_page_with_nothing_running_does_not_poll(owner_client, user):
    make_job(user)
    assert "every 1s" not in owner_client.get(reverse("job_list")).content.decode()


def test_the_poll_returns_rows_out_of_band_and_stops_when_they_finish(owner_client, user, django_assert_num_queries):
    running = make_job(user, Job.Status.RUNNING)
    finished = make_job(user)
    url = reverse("active_job_rows") + f"?ids={running.pk},{finished.pk}"
    with django_assert_num_queries(4):  # session, user, the rows, notices of other jobs
        content = owner_client.get(url, **HTMX).content.decode()
    assert f'<tr id="job-row-{running.pk}" class="job-row" hx-swap-oob="true">' in content
    assert 'hx-trigger="every 1s"' in content
    Job.objects.filter(pk=running.pk).update(status=Job.Status.SUCCEEDED)
    content = owner_client.get(url, **HTMX).content.decode()
    assert "every 1s" not in content and 'id="active-poller"' in content


def test_the_poll_ignores_other_users_and_bad_ids(owner_client, other_user):
    theirs = make_job(other_user, Job.Status.RUNNING)
    url = reverse("active_job_rows") + f"?ids={theirs.pk},not-a-uuid,{uuid.uuid4()}"
    content = owner_client.get(url, **HTMX).content.decode()
    assert str(theirs.pk) not in content and "every 1s" not in content
