"""The image batch: many photos resized, converted or watermarked, one task per image.

Its work is more than one function, so it uses the hooks: a task of its own that fans out to a
task per image (each under its own lease, so no lease for the batch), its images copied for Run
again and made pending again for an operator's retry, and its tiles on the live fragment.
"""

from django.db.models import prefetch_related_objects

from reports import kinds
from reports.forms import ImageBatchForm
from reports.models import Job
from reports.work import batches


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
        name=Job.Kind.IMAGE_BATCH,
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
    )
)
