"""Thumbnails of generated 24-megapixel JPEGs: our path against a naive Pillow
`Image.open().resize()` loop. Per photo, each side runs in a fresh process (see isolated.py); then
the same photos go through the product as a batch: one task per image on a real worker with two
processes, timed by the job's own start and end."""

import io
import tempfile
from pathlib import Path

from PIL import Image

from .figures import Figure
from .isolated import in_fresh_process

BOX = 400
NAME = "6. Thumbnails"


def make_photos(directory: Path, count: int, size: tuple[int, int]) -> list[str]:
    """Photo-like JPEGs: smooth gradients plus fine noise, so they compress like real photos."""
    paths = []
    for number in range(count):
        gradient = Image.linear_gradient("L").resize(size)
        noise = Image.effect_noise(size, 40 + number)
        image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.ROTATE_180)))
        path = directory / f"photo-{number}.jpg"
        image.save(path, quality=90)
        paths.append(str(path))
    return paths


def naive(paths: list[str]) -> None:
    for path in paths:
        with Image.open(path) as image:
            ratio = BOX / max(image.size)
            small = image.resize((round(image.width * ratio), round(image.height * ratio)))
            small.save(io.BytesIO(), format="JPEG", quality=85)


def ours(paths: list[str]) -> None:
    from reports.work import imaging

    options = imaging.ImageOptions(max_width=BOX, max_height=BOX, output_format="JPEG", quality=85)
    for path in paths:
        imaging.process(Path(path), options, max_pixels=200_000_000)


def batch_on_workers(paths: list[str]) -> float:
    """Seconds from the batch job's start to its end (its own timestamps, so the upload does not
    count): the fan-out, a task per image on two worker processes, and the ZIP of the results."""
    from .stack import Stack, wait_until

    with Stack() as stack:  # sets Django up
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.utils.datastructures import MultiValueDict

        from reports.engine import jobs
        from reports.job_kinds.image_batch import ImageBatchForm
        from reports.models import Job

        stack.start_worker(concurrency=2, empty_reports=False)
        uploads = [SimpleUploadedFile(Path(path).name, Path(path).read_bytes(), "image/jpeg") for path in paths]
        # The options of `ours`, through the form the page posts, as the view would take them.
        options = {"max_width": BOX, "max_height": BOX, "output_format": "JPEG", "quality": 85, "strip_metadata": "on"}
        form = ImageBatchForm(options, MultiValueDict({"images": uploads}), user=stack.user)
        if not form.is_valid():
            raise RuntimeError(f"The batch form refused the photos: {form.errors.as_text()}")
        job = jobs.create_job(stack.user, "image_batch", **form.job_fields())
        wait_until(lambda: Job.objects.get(pk=job.pk).is_finished, 600, "the batch to end")
        job.refresh_from_db()
        if job.status != Job.Status.SUCCEEDED or job.images.exclude(status="done").exists():
            raise RuntimeError(f"The batch ended {job.status}: {job.error_message}")
        return (job.finished_at - job.started_at).total_seconds()


def warm_up() -> None:
    """Imports and codecs, on a small photo, so neither the time nor the peak counts them."""
    with tempfile.TemporaryDirectory() as folder:
        photo = make_photos(Path(folder), 1, (320, 240))
        naive(photo)
        ours(photo)


def run(smoke: bool = False) -> list[Figure]:
    count, size = (1, (640, 480)) if smoke else (5, (6000, 4000))
    with tempfile.TemporaryDirectory() as folder:
        paths = make_photos(Path(folder), count, size)
        theirs = in_fresh_process(f"{__name__}:naive", paths, warm_up=f"{__name__}:warm_up")
        mine = in_fresh_process(f"{__name__}:ours", paths, warm_up=f"{__name__}:warm_up")
        batch = batch_on_workers(paths)
    what = f"{count} generated {size[0]}×{size[1]} JPEG{'s' if count > 1 else ''} to a {BOX} px box"
    return [
        Figure(NAME, "time per photo, one process", 1000 * mine["seconds"] / count,
               1000 * theirs["seconds"] / count, "ms", ratio_as="baseline/ours", goal="≥ 3× faster",
               note=f"{what}; ours is imaging.process, photo after photo").check(lambda r: r >= 3),
        Figure(NAME, "time per photo, a batch on the workers", 1000 * batch / count,
               1000 * theirs["seconds"] / count, "ms", ratio_as="baseline/ours", goal="≥ 3× faster",
               note="the same photos as an image batch job: a task per image on one worker with 2 processes "
                    "(the machine's cores), then the ZIP; from the job's start to its end").check(lambda r: r >= 3),
        Figure(NAME, "peak memory", mine["peak_mib"], theirs["peak_mib"], "MiB",
               goal="≤ 0.5×").check(lambda r: r <= 0.5),
    ]  # fmt: skip
