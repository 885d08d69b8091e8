"""The image batch: many photos resized, converted or watermarked, one task per image.

Its work is more than one function, so it uses the hooks: tasks of its own (here), one that
fans out to a task per image (each under its own lease, so no lease for the batch) and one that
builds the ZIP; its images copied for Run again and made pending again for an operator's retry;
and its tiles on the live fragment. The tasks keep the names they had in reports/tasks.py, so
messages already queued, and the routes in settings, still reach them.
"""

import logging

from celery import Task, chord, shared_task
from celery.exceptions import Ignore, SoftTimeLimitExceeded, TimeLimitExceeded
from django import forms
from django.conf import settings
from django.db.models import prefetch_related_objects
from django.template.defaultfilters import filesizeformat

from reports import kinds
from reports.engine import jobs, leases
from reports.engine.files import local_path
from reports.engine.problems import InputProblem
from reports.forms import ReportForm
from reports.models import ImageItem, Job
from reports.work import batches, imaging

logger = logging.getLogger(__name__)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one <input type=file multiple> (Django's documented pattern)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else [data] if data else []
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return [super(MultipleFileField, self).clean(upload, initial) for upload in files]


THUMBNAIL_SIZES = [(128, "128 px"), (256, "256 px"), (512, "512 px"), (1024, "1024 px")]
FORMAT_CHOICES = [("", "Keep the original format"), ("JPEG", "JPEG"), ("PNG", "PNG"), ("WEBP", "WebP")] + (
    [("AVIF", "AVIF")] if imaging.avif_supported() else []
)


class ImageBatchForm(ReportForm):
    images = MultipleFileField(label="Images", allow_empty_file=True)
    max_width = forms.IntegerField(label="Fit within width (px)", required=False, min_value=16, max_value=10_000)
    max_height = forms.IntegerField(label="Fit within height (px)", required=False, min_value=16, max_value=10_000)
    thumbnail_sizes = forms.TypedMultipleChoiceField(
        label="Also make thumbnails", choices=THUMBNAIL_SIZES, coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    output_format = forms.ChoiceField(label="Format", choices=FORMAT_CHOICES, required=False)
    quality = forms.IntegerField(label="Quality (1–100)", min_value=1, max_value=100, initial=85)
    grayscale = forms.BooleanField(label="Grayscale", required=False)
    watermark = forms.CharField(label="Watermark text", max_length=60, required=False, strip=True)
    strip_metadata = forms.BooleanField(
        label="Remove metadata (GPS, camera)", required=False, initial=True,
        help_text="Images are turned upright by their EXIF orientation first.",
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["images"].help_text = (
            f"Up to {settings.OFFLOAD_MAX_IMAGES} files of {settings.OFFLOAD_MAX_IMAGE_MB} MB each: "
            "JPEG, PNG, GIF, WebP, AVIF, TIFF or BMP."
        )

    def clean_images(self):
        uploads = self.cleaned_data["images"]
        if len(uploads) > settings.OFFLOAD_MAX_IMAGES:
            raise forms.ValidationError(
                f"That is {len(uploads)} files; a batch takes at most {settings.OFFLOAD_MAX_IMAGES}."
            )
        limit = settings.OFFLOAD_MAX_IMAGE_MB * 1024 * 1024
        too_big = [upload for upload in uploads if upload.size > limit]
        if too_big:
            names = ", ".join(upload.name for upload in too_big[:3]) + ("…" if len(too_big) > 3 else "")
            raise forms.ValidationError(
                f"Larger than {filesizeformat(limit)}: {names}. Remove or shrink them and try again."
            )
        return uploads

    def job_inputs(self) -> dict:
        data = self.cleaned_data
        options = imaging.ImageOptions(
            max_width=data["max_width"],
            max_height=data["max_height"],
            thumbnail_sizes=tuple(sorted(data["thumbnail_sizes"])),
            output_format=data["output_format"],
            quality=data["quality"],
            grayscale=data["grayscale"],
            watermark=data["watermark"],
            strip_metadata=data["strip_metadata"],
        )
        uploads = data["images"]
        params = {"options": options.as_params(), "count": len(uploads), "bytes": sum(u.size for u in uploads)}
        return {"params": params, "add_inputs": lambda job: batches.add_items(job, uploads)}


def describe(params: dict) -> str:
    options = params.get("options", {})
    steps = []
    if options.get("max_width") or options.get("max_height"):
        steps.append(f"fit {options.get('max_width') or 'any'}×{options.get('max_height') or 'any'}")
    if options.get("output_format"):
        steps.append(f"to {options['output_format']}")
    if options.get("grayscale"):
        steps.append("grayscale")
    if options.get("watermark"):
        steps.append("watermarked")
    count = params.get("count", 0)
    return f"{count} image{'s' if count != 1 else ''}" + (f": {', '.join(steps)}" if steps else "")


def tile_states(job: Job) -> list[str]:
    """The live fragment shows a tile per image: its state is part of what the fragment shows.
    The images are read here once (prefetched onto the job) and the tiles render from the same rows."""
    prefetch_related_objects([job], "images")
    return [item.status for item in job.images.all()]


IMAGE_BATCH = kinds.register(
    kinds.JobKind(
        name="image_batch",
        title="Images",
        label="Image batch",
        slug="images",
        description="Upload a batch of photos and resize, convert, watermark or strip their metadata; "
        "watch each one finish and download them all as a ZIP.",
        form=ImageBatchForm,
        run=None,
        describe=describe,
        result_partial="reports/job_detail.html#image-gallery",
        queue="images",
        takes_upload=True,
        task="reports.tasks.start_image_batch",
        leased=False,
        copy_inputs=batches.copy_items,
        reset_inputs=batches.reset_items,
        live_partial="reports/job_detail.html#image-tiles",
        etag_state=tile_states,
        rescue=batches.rescue_images,
    )
)


@shared_task(name="reports.tasks.start_image_batch", soft_time_limit=60, time_limit=90)
def start_image_batch(job_id: str) -> str:
    """Fan the batch out: one task per image, in parallel, then one to build the ZIP."""
    job = jobs.start(job_id)
    if job is None:
        return "skipped"
    item_ids = list(ImageItem.objects.filter(job_id=job_id).values_list("pk", flat=True))
    jobs.set_progress(job_id, 0, f"0 of {len(item_ids)} images done")
    images = [process_image.si(item).set(task_id=batches.image_task_id(job.pk, job.attempt, item)) for item in item_ids]
    # The chord's own task id is its header's group id: what the rescue check publishes an image under.
    fan_out = chord(images, task_id=batches.chord_id(job.pk, job.attempt))
    fan_out(finish_image_batch.si(job_id, job.attempt), task_id=batches.task_id(job.pk, job.attempt, "zip"))
    return "started"


class ImageTask(Task):
    """An image's task. A hard time limit kills the pool process, so the task's own code never
    says why: the image is failed here (in the worker's main process), so the rescue check never
    sends it again; its result has already counted in the batch's chord."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if isinstance(exc, TimeLimitExceeded) and args:
            item = ImageItem.objects.filter(pk=args[0]).first()
            if item is not None:
                batches.record_failure(item, "This image took too long to process and was stopped.")
                batches.update_progress(item.job_id)
        super().on_failure(exc, task_id, args, kwargs, einfo)


@shared_task(
    name="reports.tasks.process_image",
    bind=True,
    base=ImageTask,
    soft_time_limit=settings.OFFLOAD_IMAGE_SOFT_TIME_LIMIT,
    time_limit=settings.OFFLOAD_IMAGE_TIME_LIMIT,
)
def process_image(self, item_id: int) -> str:
    """One image. Never raises for a bad image: the chord must reach its end whatever each item did."""
    if batches.already_counted(self.request.id):
        # A second delivery of a task the chord has counted (the broker's copy, handed back
        # after its worker died, of an image the rescue check had sent again): counted twice,
        # it would end the batch early. Ignored, it is not counted.
        raise Ignore()
    item = ImageItem.objects.select_related("job").filter(pk=item_id).first()
    if item is None or item.status != ImageItem.Status.PENDING or item.job.status != Job.Status.RUNNING:
        return "skipped"
    attempt = batches.begin(item)
    if not attempt:
        batches.record_failure(item, "Processing this image stopped its worker more than once, so it was left out.")
        batches.update_progress(item.job_id)
        return "failed"
    options = imaging.ImageOptions.from_params(item.job.params["options"])
    try:
        with leases.held(leases.image(item.pk), attempt):
            with local_path(item.original) as path:
                result = imaging.process(path, options, settings.OFFLOAD_MAX_IMAGE_PIXELS)
            batches.record_success(item, result)
        outcome = "done"
        if not Job.objects.filter(pk=item.job_id).exclude(status=Job.Status.CANCELLED).exists():
            # Cancelled (or deleted) while this image was being processed. Not any job that is no
            # longer running: a late duplicate of this image must never touch a finished batch.
            jobs.discard_outputs(item.job)
            return "stopped"
    except InputProblem as problem:
        batches.record_failure(item, str(problem))
        outcome = "failed"
    except SoftTimeLimitExceeded:
        batches.record_failure(item, "This image took too long to process and was stopped.")
        outcome = "failed"
    except Exception:
        reference = jobs.new_reference()
        logger.exception("Image %s of job %s failed (reference %s)", item.pk, item.job_id, reference)
        batches.record_failure(item, f"Something went wrong on our side with this image (reference {reference}).")
        outcome = "failed"
    batches.update_progress(item.job_id)
    return outcome


@shared_task(name="reports.tasks.finish_image_batch", soft_time_limit=300, time_limit=330)
def finish_image_batch(job_id: str, attempt: int | None = None) -> str:
    """`attempt`: the batch's attempt whose chord this ends (an older one's leaves a retried batch alone)."""
    batches.finish(job_id, attempt)
    return "finished"
