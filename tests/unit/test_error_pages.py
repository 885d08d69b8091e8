"""Pages for what went wrong, in Offload's own look, with a way on (DEBUG is off in production)."""

import uuid

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_deleted_jobs_link_is_a_page_that_says_so_with_a_way_back(owner_client, settings):
    settings.DEBUG = False
    response = owner_client.get(reverse("job_detail", args=[uuid.uuid4()]))
    page = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in page and "the job it pointed to was deleted" in page
    assert f'href="{reverse("job_list")}"' in page and 'class="topbar"' in page


def test_a_refusal_says_why(client, settings, django_user_model):
    from django.contrib.auth.models import Group

    settings.DEBUG = False
    reader = django_user_model.objects.create_user("rita", password="x" * 20)
    reader.groups.add(Group.objects.get(name="Operators (read-only)"))
    client.force_login(reader)
    response = client.post(reverse("operations_queue", args=["reports", "pause"]))
    assert response.status_code == 403
    assert "Your role can look, not act" in response.content.decode()


def test_the_server_error_page_needs_no_request_or_database():
    page = render_to_string("500.html")
    assert "Something went wrong on our side" in page and "offload.css" in page
