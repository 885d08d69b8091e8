"""Uploads and outputs in an S3-compatible object store: a real S3 server process (moto), a fresh
bucket per test, the app configured the way an operator configures it. Each test lists the bucket
to prove what is there, and that nothing is left behind or written to local disk."""

import io
import os
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from reports.engine import files, jobs
from reports.job_kinds.image_batch import process_image
from reports.models import ImageItem, Job
from reports.work import batches
from tests.s3_server import files_under
from tests.support import HTMX, csv_upload, image_upload, jpeg_bytes, people_csv

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
SALES_PARAMS = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}


@pytest.fixture(autouse=True)
def empty_queue(broker):
    yield
    redis.Redis.from_url(broker.url).flushdb()


@pytest.fixture
def local_media(settings, tmp_path):
    """An empty MEDIA_ROOT of this test's own: with the object store on, nothing may land in it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def finished_job(owner, kind="sales_summary", **fields) -> Job:
    return Job.objects.create(owner=owner, kind=kind, params=SALES_PARAMS, status=Job.Status.SUCCEEDED, **fields)


def test_an_uploaded_csv_goes_to_the_bucket_and_a_worker_reads_it_through_a_local_copy(
    object_store, s3_server, owner_client, user, local_media
):
    content = people_csv(200)
    response = owner_client.post("/reports/csv-profile/", {"file": csv_upload(content)})
    assert response.status_code == 303
    job = Job.objects.get(owner=user)
    assert s3_server.keys(object_store) == {f"uploads/{job.pk}/input.csv"}
    with files.local_path(job.input_file) as path:
        assert path.read_bytes() == content
    assert not path.exists()  # the worker's copy goes when the work is done
    assert files_under(local_media) == []


def test_a_large_upload_goes_to_the_bucket_whole_in_parts_from_the_requests_temporary_file(
    object_store, s3_server, owner_client, user, local_media
):
    content = people_csv(2_000)
    content += b"".join([content.split(b"\n", 1)[1]] * (20 * 2**20 // len(content)))  # ~20 MB: 3 parts of 8 MiB
    response = owner_client.post("/reports/csv-profile/", {"file": csv_upload(content)})
    assert response.status_code == 303
    job = Job.objects.get(owner=user)
    stored = s3_server.client().get_object(Bucket=object_store, Key=f"uploads/{job.pk}/input.csv")
    assert stored["Body"].read() == content
    assert stored["ETag"].strip('"').endswith("-3")  # a multipart upload
    assert stored["ContentType"] == "text/csv"
    assert files_under(local_media) == []


def test_a_download_is_streamed_from_the_bucket_in_chunks(object_store, owner_client, user):
    job = finished_job(user)
    content = os.urandom(3 * files.CHUNK_SIZE + 123)
    jobs.save_artifact(job, "big.csv", "CSV", "text/csv", ContentFile(content))
    response = owner_client.get(reverse("artifact_download", args=[job.pk, "big.csv"]))
    assert response.status_code == 200 and response.streaming
    chunks = list(response.streaming_content)
    assert b"".join(chunks) == content and len(chunks) == 4
    assert response["Content-Length"] == str(len(content))
    assert response["Content-Disposition"] == 'attachment; filename="big.csv"'


def test_a_file_gone_from_the_bucket_answers_404_not_an_error(object_store, s3_server, owner_client, user):
    job = finished_job(user)
    artifact = jobs.save_artifact(job, "report.csv", "CSV", "text/csv", b"a\n")
    s3_server.client().delete_object(Bucket=object_store, Key=artifact.file.name)  # deleted meanwhile
    response = owner_client.get(reverse("artifact_download", args=[job.pk, "report.csv"]))
    assert response.status_code == 404


def test_another_users_download_is_404_on_the_object_store_too(object_store, other_client, user):
    job = finished_job(user)
    jobs.save_artifact(job, "report.csv", "CSV", "text/csv", b"a\n")
    assert other_client.get(reverse("artifact_download", args=[job.pk, "report.csv"])).status_code == 404


def test_run_again_copies_inputs_inside_the_bucket_and_delete_leaves_no_object(
    object_store, s3_server, owner_client, user, local_media, django_capture_on_commit_callbacks
):
    csv_job = Job(owner=user, kind="csv_profile", status=Job.Status.SUCCEEDED, params={"separator": ","})
    csv_job.input_file.save("input.csv", ContentFile(people_csv(4)), save=False)
    csv_job.save()
    batch = Job.objects.create(
        owner=user, kind="image_batch", status=Job.Status.FAILED, params={"options": {}, "count": 2}
    )
    batches.add_items(batch, [image_upload(jpeg_bytes(32, 32), "a.jpg"), image_upload(b"x", "b.jpg")])

    owner_client.post(reverse("job_run_again", args=[csv_job.pk]), **HTMX)
    new_csv = Job.objects.filter(kind="csv_profile").exclude(pk=csv_job.pk).get()
    new_batch = jobs.run_again(batch)
    assert new_csv.input_file.read() == people_csv(4)
    assert [item.original.read() for item in new_batch.images.all()] == [jpeg_bytes(32, 32), b"x"]
    assert s3_server.keys(object_store) == {
        f"uploads/{csv_job.pk}/input.csv",
        f"uploads/{new_csv.pk}/input.csv",
        *(f"uploads/{job.pk}/image-00{n}" for job in (batch, new_batch) for n in (1, 2)),
    }

    for job in Job.objects.all():
        jobs.cancel(job)
        with django_capture_on_commit_callbacks(execute=True):  # the files go once the rows have
            owner_client.post(reverse("job_delete", args=[job.pk]))
    assert not Job.objects.exists()
    assert s3_server.keys(object_store) == set()
    assert files_under(local_media) == []


def test_cancel_removes_partial_outputs_from_the_bucket_and_keeps_the_input(object_store, s3_server, user):
    job = Job.objects.create(owner=user, kind="csv_profile", status=Job.Status.RUNNING, params={})
    job.input_file.save("input.csv", ContentFile(b"a\n1\n"))
    jobs.save_artifact(job, "csv-profile.csv", "CSV", "text/csv", b"partial\n")
    # Written by an attempt killed before it recorded it: no row names it.
    default_storage.save(f"jobs/{job.pk}/csv-profile.xlsx", ContentFile(b"orphan"))
    assert jobs.cancel(job)
    assert s3_server.keys(object_store) == {f"uploads/{job.pk}/input.csv"}  # kept for Run again


def test_retention_deletes_old_jobs_objects_and_only_theirs(
    object_store, s3_server, user, settings, django_capture_on_commit_callbacks
):
    old = finished_job(user, finished_at=timezone.now() - timedelta(days=31))
    recent = finished_job(user, finished_at=timezone.now() - timedelta(days=1))
    for job in (old, recent):
        jobs.save_artifact(job, "report.csv", "CSV", "text/csv", b"a\n")
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.delete_older_than(30) == 1
    assert s3_server.keys(object_store) == {f"jobs/{recent.pk}/report.csv"}


def test_an_image_batch_reads_and_writes_the_bucket_and_its_zip_holds_every_output(
    object_store, s3_server, user, local_media
):
    job = Job.objects.create(
        owner=user,
        kind="image_batch",
        params={"count": 3, "options": {"output_format": "JPEG", "quality": 80, "thumbnail_sizes": [128]}},
    )
    uploads = [image_upload(jpeg_bytes(400, 300), "a.jpg"), image_upload(b"not an image", "bad.jpg")]
    uploads.append(image_upload(jpeg_bytes(300, 200), "c.jpg"))
    batches.add_items(job, uploads)
    jobs.start(job.pk)
    outcomes = [process_image(item_id) for item_id in job.images.values_list("pk", flat=True)]
    assert outcomes == ["done", "failed", "done"]
    batches.finish(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED

    done = list(job.images.filter(status=ImageItem.Status.DONE))
    outputs = {f"jobs/{job.pk}/images/{name}" for n in (1, 3) for name in (f"00{n}.jpg", f"00{n}-preview.jpg")}
    thumbnails = {f"jobs/{job.pk}/image-00{n}-128px.jpg" for n in (1, 3)}
    originals = {f"uploads/{job.pk}/image-00{n}" for n in (1, 2, 3)}
    assert s3_server.keys(object_store) == outputs | thumbnails | originals | {f"jobs/{job.pk}/images.zip"}
    archive = zipfile.ZipFile(io.BytesIO(job.artifacts.get(name=batches.ZIP_NAME).file.read()))
    assert sorted(archive.namelist()) == sorted(
        [item.output_name for item in done] + [f"thumbnails/image-00{n}-128px.jpg" for n in (1, 3)]
    )
    assert archive.read(done[0].output_name) == done[0].output.read()
    assert files_under(local_media) == []


def start_up_output(environment: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, capture_output=True, text=True, timeout=60,
        env={**os.environ, **environment},
    )  # fmt: skip


def test_start_up_stops_with_a_clear_message_when_the_bucket_does_not_exist(s3_server):
    result = start_up_output(s3_server.environment("no-such-bucket"))
    assert result.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME: the bucket 'no-such-bucket'" in result.stderr
    assert "does not exist there; create it first" in result.stderr


def test_start_up_names_the_endpoint_when_the_store_cannot_be_reached(s3_server):
    from project.embedded_redis import free_port

    environment = {**s3_server.environment("offload"), "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    result = start_up_output(environment)
    assert result.returncode != 0 and "could not be reached" in result.stderr and "AWS_S3_ENDPOINT_URL" in result.stderr


def test_start_up_goes_ahead_when_the_bucket_exists(s3_server):
    result = start_up_output(s3_server.environment(s3_server.new_bucket()))
    assert result.returncode == 0, result.stderr


def test_local_disk_stays_the_default():
    assert not django_settings.OBJECT_STORE
    assert django_settings.STORAGES["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
