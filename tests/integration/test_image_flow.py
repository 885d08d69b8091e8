"""An image batch through a real Redis and real Celery worker processes (a chord on the images queue)."""

import io
import zipfile

import pytest
from django.urls import reverse
from PIL import Image

from reports.models import ImageItem, Job
from tests.support import image_upload, jpeg_bytes, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_mixed_batch_ends_with_the_right_counts_artifacts_and_zip(celery_worker_process, owner_client, user):
    whole = jpeg_bytes(1600, 1200)
    files = [
        image_upload(whole, "beach.jpg"),
        image_upload(jpeg_bytes(800, 800), "square.jpg"),
        image_upload(b"not an image at all", "notes.jpg"),
        image_upload(whole[: len(whole) // 3], "cut.jpg"),
    ]
    options = {"images": files, "max_width": "400", "max_height": "400", "thumbnail_sizes": ["128"],
               "output_format": "WEBP", "quality": "80", "strip_metadata": "on"}  # fmt: skip
    assert owner_client.post("/reports/images/", options).status_code == 303
    job = Job.objects.get(owner=user)

    job = wait_for(lambda: Job.objects.filter(pk=job.pk, status__in=Job.FINAL_STATUSES).first(), 90, "the batch")
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert (job.result["total"], job.result["done"], job.result["failed"]) == (4, 2, 2)
    items = {item.source_name: item for item in job.images.all()}
    assert items["beach.jpg"].status == ImageItem.Status.DONE
    assert (items["beach.jpg"].output_width, items["beach.jpg"].output_height) == (400, 300)
    assert "not an image" in items["notes.jpg"].error
    assert "truncated" in items["cut.jpg"].error

    download = owner_client.get(reverse("artifact_download", args=[job.pk, "images.zip"]))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert sorted(archive.namelist()) == [
        "001-beach.webp", "002-square.webp",
        "thumbnails/image-001-128px.webp", "thumbnails/image-002-128px.webp",
    ]  # fmt: skip
    assert Image.open(io.BytesIO(archive.read("001-beach.webp"))).size == (400, 300)

    page = owner_client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "Finished with 2 of 4 failed" in page and "hx-get" not in page


def test_a_batch_where_every_image_is_bad_fails_and_says_why_for_each(celery_worker_process, owner_client, user):
    files = [image_upload(b"%PDF-1.4 nope", "doc.jpg"), image_upload(b"", "empty.png")]
    owner_client.post("/reports/images/", {"images": files, "quality": "85"})
    job = wait_for(lambda: Job.objects.filter(owner=user, status__in=Job.FINAL_STATUSES).first(), 90, "the batch")
    assert job.status == Job.Status.FAILED
    assert "None of the 2 images could be processed" in job.error_message
    assert all(item.status == ImageItem.Status.FAILED and item.error for item in job.images.all())
