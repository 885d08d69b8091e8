"""The image batch form and image URLs: limits, bad input, ownership."""

import pytest
import redis
from django.urls import reverse

from reports.models import ImageItem, Job
from reports.work import batches
from reports.work.imaging import EncodedImage, ProcessedImage
from tests.support import HTMX, image_upload, jpeg_bytes

pytestmark = pytest.mark.django_db

OPTIONS = {"quality": 85, "output_format": "WEBP", "strip_metadata": "on"}


@pytest.fixture(autouse=True)
def empty_queue(broker):
    yield
    redis.Redis.from_url(broker.url).flushdb()


def batch_with_one_done_image(owner) -> tuple[Job, ImageItem]:
    job = Job.objects.create(owner=owner, kind="image_batch", status=Job.Status.RUNNING, params={"count": 1})
    batches.add_items(job, [image_upload(jpeg_bytes(), "cat.jpg")])
    item = job.images.get()
    encoded = EncodedImage(b"RIFF....WEBPVP8 ", "WEBP", 10, 10)
    batches.record_success(item, ProcessedImage("JPEG", 640, 480, encoded, encoded))
    return job, item


@pytest.mark.django_db(transaction=True)
def test_a_batch_creates_one_pending_item_per_file_under_generated_names(owner_client, user):
    files = [image_upload(jpeg_bytes(), "../../etc/passwd.jpg"), image_upload(jpeg_bytes(), "b.jpg")]
    response = owner_client.post("/reports/images/", {**OPTIONS, "images": files, "thumbnail_sizes": ["128"]})
    assert response.status_code == 303
    job = Job.objects.get(owner=user)
    assert job.kind == "image_batch" and job.params["count"] == 2
    assert job.params["options"]["thumbnail_sizes"] == [128]
    items = list(job.images.all())
    assert [i.source_name for i in items] == ["passwd.jpg", "b.jpg"]  # Django keeps only the base name
    assert [i.original.name for i in items] == [f"uploads/{job.pk}/image-001", f"uploads/{job.pk}/image-002"]


def test_too_many_files_are_refused_in_the_form(owner_client, settings):
    settings.OFFLOAD_MAX_IMAGES = 2
    files = [image_upload(jpeg_bytes(16, 16), f"{i}.jpg") for i in range(3)]
    response = owner_client.post("/reports/images/", {**OPTIONS, "images": files})
    assert response.status_code == 400
    assert "That is 3 files; a batch takes at most 2." in response.content.decode()
    assert not Job.objects.exists()


def test_a_file_over_the_size_limit_is_named_in_the_form(owner_client, settings):
    settings.OFFLOAD_MAX_IMAGE_MB = 1
    big = image_upload(b"\xff\xd8" + b"0" * (1024 * 1024 + 10), "huge.jpg")
    response = owner_client.post("/reports/images/", {**OPTIONS, "images": [big, image_upload(jpeg_bytes(), "ok.jpg")]})
    assert response.status_code == 400
    assert (
        "huge.jpg" in response.content.decode()
        and "ok.jpg" not in response.content.decode().split("Larger than")[1][:60]
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"quality": "0"}, "greater than or equal to 1"), ({"output_format": "BMP"}, "Select a valid choice"),
     ({"max_width": "5"}, "greater than or equal to 16"), ({"thumbnail_sizes": ["77"]}, "Select a valid choice")],
)  # fmt: skip
def test_invalid_options_are_explained_in_the_form(owner_client, changes, message):
    response = owner_client.post(
        "/reports/images/", {**OPTIONS, "images": [image_upload(jpeg_bytes(), "a.jpg")], **changes}
    )
    assert response.status_code == 400 and message in response.content.decode()


def test_no_files_is_refused(owner_client):
    response = owner_client.post("/reports/images/", OPTIONS, **HTMX)
    assert response["HX-Retarget"] == "#report-form" and "This field is required" in response.content.decode()


def test_owner_sees_the_processed_image_inline_or_as_a_download(owner_client, user):
    job, item = batch_with_one_done_image(user)
    shown = owner_client.get(reverse("image_file", args=[job.pk, item.position]))
    assert shown.status_code == 200 and shown["Content-Type"] == "image/webp"
    assert "attachment" not in shown.get("Content-Disposition", "")
    downloaded = owner_client.get(reverse("image_file", args=[job.pk, item.position]) + "?download")
    assert downloaded["Content-Disposition"] == 'attachment; filename="001-cat.webp"'
    assert owner_client.get(reverse("image_preview", args=[job.pk, item.position])).status_code == 200


def test_other_users_images_are_404(other_client, user):
    job, item = batch_with_one_done_image(user)
    for url in (reverse("image_file", args=[job.pk, 1]), reverse("image_preview", args=[job.pk, 1]),
                reverse("job_detail", args=[job.pk]), reverse("artifact_download", args=[job.pk, "images.zip"])):  # fmt: skip
        assert other_client.get(url).status_code == 404


def test_a_pending_or_missing_image_is_404(owner_client, user):
    job, item = batch_with_one_done_image(user)
    ImageItem.objects.filter(pk=item.pk).update(status=ImageItem.Status.PENDING)
    assert owner_client.get(reverse("image_file", args=[job.pk, 1])).status_code == 404
    assert owner_client.get(reverse("image_file", args=[job.pk, 2])).status_code == 404


def test_the_running_batch_fragment_shows_a_tile_per_image_in_constant_queries(
    owner_client, user, django_assert_num_queries
):
    job, item = batch_with_one_done_image(user)
    url = reverse("job_status", args=[job.pk])
    # session, user, job, whether a notice waits (none, so no notices are read); for the ETag,
    # the images (the tiles reuse them)
    with django_assert_num_queries(5):
        content = owner_client.get(url, **HTMX).content.decode()
    assert content.count('class="tile ') == 1 and "cat.jpg" in content and 'hx-trigger="every 1s"' in content


def test_a_preview_is_served_as_the_format_it_is_in(owner_client, user):
    job = Job.objects.create(owner=user, kind="image_batch", status=Job.Status.RUNNING, params={"count": 2})
    batches.add_items(job, [image_upload(jpeg_bytes(), "small.jpg"), image_upload(jpeg_bytes(), "large.jpg")])
    small, large = job.images.all()
    output = EncodedImage(jpeg_bytes(300, 200), "JPEG", 300, 200)  # small: it is its own preview
    batches.record_success(small, ProcessedImage("JPEG", 640, 480, output, output))
    preview = EncodedImage(b"RIFF....WEBPVP8 ", "WEBP", 360, 240)
    batches.record_success(large, ProcessedImage("JPEG", 6000, 4000, output, preview))
    kinds = [owner_client.get(reverse("image_preview", args=[job.pk, n]))["Content-Type"] for n in (1, 2)]
    assert kinds == ["image/jpeg", "image/webp"]


def test_client_file_names_are_escaped_and_cleaned_for_the_zip(user):
    job = Job.objects.create(owner=user, kind="image_batch", params={})
    batches.add_items(job, [image_upload(jpeg_bytes(16, 16), "<script>x</script>\x07.jpg")])
    item = job.images.get()
    item.output.name = "jobs/x/images/001.webp"
    # Django keeps the part after the last "/"; we keep only word characters of that.
    assert item.output_name == "001-script.webp"
