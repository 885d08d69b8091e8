"""The image batch: its items, their outputs, the batch's progress and its ZIP.

Item outcomes are written once (guarded on PENDING), so a task that runs twice adds nothing.
"""

import logging
import tempfile
import uuid
import zipfile

from celery import states
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django_celery_results.models import TaskResult

from reports.engine import dispatch, events, jobs, leases
from reports.engine.files import copy_to, open_chunks
from reports.models import ImageItem, Job
from reports.work.imaging import EncodedImage, ProcessedImage

logger = logging.getLogger(__name__)

ZIP_NAME = "images.zip"
# The batch's tasks (reports/job_kinds/image_batch.py), sent by name: that module imports this one.
PROCESS_IMAGE = "reports.tasks.process_image"
FINISH_IMAGE_BATCH = "reports.tasks.finish_image_batch"


def add_items(job: Job, uploads) -> None:
    """Store each upload under a generated name as a pending item of the job."""
    for position, upload in enumerate(uploads, start=1):
        item = ImageItem(job=job, position=position, source_name=upload.name[:255], source_bytes=upload.size)
        item.original.save("original", upload, save=False)
        item.save()


def copy_items(source: Job, target: Job) -> None:
    """The same uploads as pending items of another job (Run again)."""
    for item in source.images.all():
        copy = ImageItem(
            job=target, position=item.position, source_name=item.source_name, source_bytes=item.source_bytes
        )
        copy_to(item.original, copy.original, "original")
        copy.save()


def reset_items(job: Job) -> None:
    """Every image of a batch pending again, as it was uploaded (an operator's retry; the
    outputs are removed with the job's)."""
    ImageItem.objects.filter(job=job).update(
        status=ImageItem.Status.PENDING, error="", starts=0, started_at=None, source_format="",
        source_width=None, source_height=None, output="", preview="", output_format="",
        output_width=None, output_height=None, output_bytes=0,
    )  # fmt: skip


def replace_file(field, name: str, encoded: EncodedImage) -> None:
    """Save under a fixed name, replacing what a previous run of the same task left there."""
    target = field.field.generate_filename(field.instance, name)
    if field.storage.exists(target):
        field.storage.delete(target)
    field.save(name, ContentFile(encoded.content), save=False)


def record_success(item: ImageItem, result: ProcessedImage) -> None:
    job = item.job
    replace_file(item.output, f"{item.position:03d}.{result.output.extension}", result.output)
    # A small output is its own preview, in the output's format: the name says which.
    replace_file(item.preview, f"{item.position:03d}-preview.{result.preview.extension}", result.preview)
    for size, thumbnail in result.thumbnails.items():
        name = f"image-{item.position:03d}-{size}px.{thumbnail.extension}"
        jobs.save_artifact(job, name, f"{size}px thumbnail", f"image/{thumbnail.extension}", thumbnail.content)
    ImageItem.objects.filter(pk=item.pk, status=ImageItem.Status.PENDING).update(
        status=ImageItem.Status.DONE,
        source_format=result.source_format,
        source_width=result.source_width,
        source_height=result.source_height,
        output=item.output.name,
        preview=item.preview.name,
        output_format=result.output.format,
        output_width=result.output.width,
        output_height=result.output.height,
        output_bytes=len(result.output.content),
    )


def begin(item: ImageItem) -> int:
    """Count a worker starting on this image: the attempt it now is (what its lease holds), or 0
    once it has been started as often as a job may be restarted: it is the image that kills its
    workers, so it fails on its own."""
    limit = settings.OFFLOAD_MAX_RESTARTS + 1
    pending = ImageItem.objects.filter(pk=item.pk, status=ImageItem.Status.PENDING)
    if not pending.filter(starts__lt=limit).update(starts=F("starts") + 1, started_at=timezone.now()):
        return 0
    return pending.values_list("starts", flat=True).first() or 0


def task_id(job_id, attempt: int, part: str) -> str:
    """The ids of a batch attempt's tasks, known in advance: the rescue check publishes an
    image's task again under its own id and chord, so the chord still counts it."""
    return str(uuid.uuid5(uuid.UUID(str(job_id)), f"{attempt}:{part}"))


def image_task_id(job_id, attempt: int, item_id) -> str:
    return task_id(job_id, attempt, f"image:{item_id}")


def chord_id(job_id, attempt: int) -> str:
    return task_id(job_id, attempt, "images")


def already_counted(task_id: str | None) -> bool:
    """Whether a run of this task has ended already (its result is stored, so the chord counted it)."""
    return bool(task_id) and TaskResult.objects.filter(task_id=task_id, status__in=states.READY_STATES).exists()


def rescue_images() -> int:
    """Images whose worker died mid-image (their lease lapsed) go back to the queue: their own
    task again, under its id and chord, so the batch finishes within a minute, not after the
    broker's visibility timeout. Returns how many. One query when no image is in progress."""
    quiet = ImageItem.objects.filter(
        status=ImageItem.Status.PENDING,
        started_at__lt=timezone.now() - jobs.lease_duration(),
        job__status=Job.Status.RUNNING,
    ).values("pk", "job_id", "job__attempt", "starts", "started_at")
    candidates = list(quiet)
    held = leases.holders([leases.image(item["pk"]) for item in candidates])
    ids = {item["pk"]: image_task_id(item["job_id"], item["job__attempt"], item["pk"]) for item in candidates}
    ended = set(TaskResult.objects.filter(task_id__in=ids.values(), status__in=states.READY_STATES)
                .values_list("task_id", flat=True))  # fmt: skip
    rescued = 0
    for item in candidates:
        holder = held[leases.image(item["pk"])]
        if holder is not None and holder.attempt == item["starts"]:
            continue
        if ids[item["pk"]] in ended:
            continue  # its run ended, and counted in the chord, without saying how: the task's on_failure fails it
        # Claimed once: the next check does not publish it again while it waits in the queue.
        claimed = ImageItem.objects.filter(
            pk=item["pk"], status=ImageItem.Status.PENDING, starts=item["starts"], started_at=item["started_at"]
        ).update(started_at=None)
        if not claimed:
            continue
        job_id, attempt = item["job_id"], item["job__attempt"]
        try:
            dispatch.send(
                PROCESS_IMAGE,
                [item["pk"]],
                task_id=ids[item["pk"]],
                group_id=chord_id(job_id, attempt),
                chord=dispatch.signature(FINISH_IMAGE_BATCH, [str(job_id), attempt]),
            )
        except Exception:  # the broker is away: unclaim it, so the next check tries again
            ImageItem.objects.filter(pk=item["pk"], started_at=None).update(started_at=item["started_at"])
            logger.warning("Could not queue image %s of job %s again", item["pk"], job_id, exc_info=True)
            continue
        logger.warning("Image %s of job %s lost its worker; queued again", item["pk"], job_id)
        rescued += 1
    return rescued


def record_failure(item: ImageItem, reason: str) -> None:
    ImageItem.objects.filter(pk=item.pk, status=ImageItem.Status.PENDING).update(
        status=ImageItem.Status.FAILED, error=reason[:300]
    )


def counts(job_id) -> dict:
    return ImageItem.objects.filter(job_id=job_id).aggregate(
        total=Count("pk"),
        done=Count("pk", filter=Q(status=ImageItem.Status.DONE)),
        failed=Count("pk", filter=Q(status=ImageItem.Status.FAILED)),
        source_bytes=Sum("source_bytes", filter=Q(status=ImageItem.Status.DONE), default=0),
        output_bytes=Sum("output_bytes", filter=Q(status=ImageItem.Status.DONE), default=0),
    )


def update_progress(job_id) -> None:
    tally = counts(job_id)
    finished = tally["done"] + tally["failed"]
    percent = min(99, 100 * finished // max(tally["total"], 1))
    # Items finish in parallel: only ever move the bar forward.
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, progress__lt=percent).update(
        progress=percent, step=f"{finished} of {tally['total']} images done"
    )
    events.job_changed(job_id)  # a tile changed, whether or not the bar moved


def build_zip(job: Job) -> None:
    """Every output and thumbnail in one ZIP, built as a stream: each file goes into a ZIP on
    the worker's disk a chunk at a time, and the ZIP to the store the same way (in parts, to an
    object store), so memory stays flat however many images there are."""
    items = ImageItem.objects.filter(job=job, status=ImageItem.Status.DONE)
    members = [(item.output_name, item.output) for item in items] + [
        (f"thumbnails/{thumbnail.name}", thumbnail.file)
        for thumbnail in job.artifacts.filter(name__startswith="image-")
    ]
    with tempfile.TemporaryFile() as buffer:
        # Stored, not deflated: JPEG, WebP and AVIF are compressed already.
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, stored in members:
                with archive.open(name, "w") as member:
                    for chunk in open_chunks(stored):
                        member.write(chunk)
        jobs.save_artifact(job, ZIP_NAME, "All images (ZIP)", "application/zip", File(buffer, name=ZIP_NAME))


def finish(job_id, attempt: int | None = None) -> None:
    job = jobs.running(job_id, attempt).first()
    if job is None:
        return
    tally = counts(job_id)
    if not tally["done"]:
        jobs.fail(job_id, f"None of the {tally['total']} images could be processed; each one says why below.",
                  attempt=attempt)  # fmt: skip
        return
    build_zip(job)
    with transaction.atomic():
        jobs.succeed(job_id, tally, attempt=attempt)
