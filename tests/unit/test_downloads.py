"""Downloads are streamed a chunk at a time from either storage, under WSGI and under ASGI."""

import os

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncRequestFactory, RequestFactory

from reports.engine import files, jobs
from reports.engine.downloads import stored_file_response
from reports.models import Job

pytestmark = pytest.mark.django_db

CONTENT = os.urandom(3 * files.CHUNK_SIZE + 5)


@pytest.fixture(params=["disk", "s3"])
def stored_download(request, user):
    if request.param == "s3":
        request.getfixturevalue("object_store")
    job = Job.objects.create(owner=user, kind="sales_summary", status=Job.Status.SUCCEEDED)
    return jobs.save_artifact(job, "big.csv", "CSV", "text/csv", CONTENT)


async def received(response) -> list[bytes]:
    return [chunk async for chunk in response]


def test_under_asgi_a_download_is_an_async_stream_that_django_never_reads_whole(stored_download):
    # Django reads a synchronous iterator into a list before sending it under ASGI.
    response = stored_file_response(AsyncRequestFactory().get("/"), stored_download.file, "text/csv", len(CONTENT))
    assert response.is_async
    chunks = async_to_sync(received)(response)
    assert b"".join(chunks) == CONTENT and max(map(len, chunks)) == files.CHUNK_SIZE


def test_under_wsgi_a_download_is_a_plain_stream_of_chunks(stored_download):
    response = stored_file_response(RequestFactory().get("/"), stored_download.file, "text/csv", len(CONTENT))
    assert not response.is_async
    chunks = list(response.streaming_content)
    assert b"".join(chunks) == CONTENT and max(map(len, chunks)) == files.CHUNK_SIZE
