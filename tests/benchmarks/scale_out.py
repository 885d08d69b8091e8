"""Scale-out on an object store: memory that stays flat as files grow, and the throughput curve
as worker processes are added, on local disk and on S3 (a moto_server process).

- Web memory: a 1 GB CSV uploaded through uvicorn (one process) to S3 and profiled by a worker;
  the web process's peak RSS, sampled every 20 ms.
- ZIP memory: the ZIP of 50 × 20 MB outputs in the bucket, built by Offload (`batches.build_zip`:
  a chunk at a time) and, as the baseline, as a task written by hand would build it (each file
  read whole, as Offload itself did before); the rise of each one's peak RSS in a fresh process.
- The curve: short jobs (sales summaries on a small data set, with their four downloads) and image
  batches (8 photos each), end to end over HTTP, with 1, 2 and 4 worker processes, on PostgreSQL,
  local disk then S3 (SQLite when no PostgreSQL answers, and in the smoke run).

Each part runs in a process of its own (Django is set up once per process):

    python -m tests.benchmarks.scale_out zip|upload|curve [disk|s3] [--smoke] [--postgres URL]
"""

import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import httpx
import psutil

from .figures import Figure
from .stack import ROOT, Stack, wait_until

SALES_FORM = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}
IMAGE_OPTIONS = {"output_format": "JPEG", "quality": "80", "max_width": "1200", "strip_metadata": "on"}


class PeakMemory:
    """The peak resident set of a process and its children, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.02):
        self.process, self.interval, self.peak = psutil.Process(pid), interval, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in [self.process, *self.process.children(recursive=True)])

    def sample(self) -> None:
        while not self.stop.wait(self.interval):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> "PeakMemory":
        self.before = self.rss()
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.thread.join()


def write_csv(path: Path, size: int) -> int:
    """A CSV of about `size` bytes: 8 columns of numbers, text and dates, written in blocks."""
    import numpy as np

    rng = np.random.default_rng(7)
    with open(path, "w") as out:
        out.write("id,amount,quantity,region,product,ordered,score,note\n")
        row = 0
        while out.tell() < size:
            n = 20_000
            ids = np.arange(row, row + n)
            amounts = rng.gamma(2.0, 40.0, n).round(2)
            quantities = rng.integers(1, 20, n)
            regions = rng.choice(["north", "south", "east", "west"], n)
            days = rng.integers(1, 28, n)
            scores = rng.normal(0, 1, n).round(4)
            out.writelines(
                f"{i},{a},{q},{r},product {i % 997},2025-03-{d:02d},{s},note {i % 13}\n"
                for i, a, q, r, d, s in zip(ids, amounts, quantities, regions, days, scores, strict=True)
            )
            row += n
    return path.stat().st_size


def photo(width: int, height: int, quality: int = 95) -> bytes:
    """A JPEG of noise over a gradient: noise compresses badly, so a few MP make a big file."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(width)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def web_memory_on_a_big_upload(smoke: bool) -> list[Figure]:
    from tests.s3_server import S3Server

    size = 4 * 2**20 if smoke else 2**30
    folder = Path(tempfile.mkdtemp(prefix="offload-bench-upload-"))
    csv_path = folder / "big.csv"
    s3 = S3Server(folder / "moto.log").start()
    try:
        store = s3.environment(s3.new_bucket())
        with Stack(**store, OFFLOAD_MAX_UPLOAD_MB="2000") as stack:
            from reports.models import Job

            stack.start_worker(concurrency=1, empty_reports=False)
            base_url = stack.start_web("uvicorn", workers=1)
            web = next(p for p in stack.processes if getattr(p, "base_url", "") == base_url)
            written = write_csv(csv_path, size)
            cookies, headers = stack.credentials()
            client = httpx.Client(base_url=base_url, cookies=cookies, headers=headers, timeout=600)
            with client, PeakMemory(web.pid) as memory, open(csv_path, "rb") as upload:
                started = time.perf_counter()
                response = client.post("/reports/csv-profile/", files={"file": ("big.csv", upload, "text/csv")})
                response.raise_for_status()
                uploaded = time.perf_counter() - started
                job = Job.objects.get(pk=response.headers["HX-Push-Url"].rstrip("/").rsplit("/", 1)[1])
                wait_until(lambda: Job.objects.get(pk=job.pk).is_finished, 1800, "the profile to end")
                took = time.perf_counter() - started
            job.refresh_from_db()
            assert job.status == Job.Status.SUCCEEDED, job.error_message
    finally:
        s3.stop()
        csv_path.unlink(missing_ok=True)
    mib = 2**20
    return [
        Figure("10. Scale-out memory", f"{written / 2**30:.2f} GB CSV uploaded to S3 and profiled: web peak RSS",
               memory.peak / mib, None, "MiB", ratio_as="", goal="< 150 MiB",
               note=f"uvicorn, one process, sampled every 20 ms (at rest {memory.before / mib:.0f} MiB); upload "
                    f"{uploaded:.1f} s ({written / uploaded / mib:.0f} MiB/s to the bucket), whole job {took:.1f} s; "
                    f"{job.result['rows']:,} rows").check(lambda peak: peak < 150),
        Figure("10. Scale-out memory", f"{written / 2**30:.2f} GB CSV uploaded to S3 and profiled: web RSS rise",
               (memory.peak - memory.before) / mib, None, "MiB", ratio_as="", goal="report",
               note="the peak above over the same process at rest, before the upload: what the file's size adds"),
    ]  # fmt: skip


def set_up_django() -> None:
    import django

    django.setup()


def zip_in_memory(job_id: str) -> None:
    """The ZIP as a task written by hand builds it (and as Offload did before): each output read
    whole through django-storages, the archive in a spooled buffer, saved from its bytes."""
    from django.core.files.base import ContentFile

    from reports.engine import jobs
    from reports.models import ImageItem, Job
    from reports.work import batches

    job = Job.objects.get(pk=job_id)
    with tempfile.SpooledTemporaryFile(max_size=64 * 2**20) as buffer:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            for item in ImageItem.objects.filter(job=job, status=ImageItem.Status.DONE):
                with item.output.open("rb") as output:
                    archive.writestr(item.output_name, output.read())
        buffer.seek(0)
        jobs.save_artifact(job, batches.ZIP_NAME, "All images (ZIP)", "application/zip", ContentFile(buffer.read()))


def zip_streamed(job_id: str) -> None:
    from reports.models import Job
    from reports.work import batches

    batches.build_zip(Job.objects.get(pk=job_id))


def zip_memory(smoke: bool) -> list[Figure]:
    from tests.benchmarks.isolated import in_fresh_process
    from tests.s3_server import S3Server

    count, width, height = (3, 400, 300) if smoke else (50, 5000, 3600)  # 20 MB each
    folder = Path(tempfile.mkdtemp(prefix="offload-bench-zip-"))
    s3 = S3Server(folder / "moto.log").start()
    try:
        bucket = s3.new_bucket()
        store = s3.environment(bucket)
        with Stack(**store) as stack:
            from reports.models import ImageItem, Job

            content = photo(width, height)
            job = Job.objects.create(owner=stack.user, kind="image_batch", status=Job.Status.RUNNING)
            client = s3.client()
            for position in range(1, count + 1):
                name = f"jobs/{job.pk}/images/{position:03d}.jpg"
                client.put_object(Bucket=bucket, Key=name, Body=content)
                ImageItem.objects.create(job=job, position=position, source_name=f"photo {position}.jpg",
                                         original=f"uploads/{job.pk}/image-{position:03d}",
                                         status=ImageItem.Status.DONE, output=name, output_bytes=len(content))  # fmt: skip
            warm = "tests.benchmarks.scale_out:set_up_django"
            ours = in_fresh_process("tests.benchmarks.scale_out:zip_streamed", str(job.pk), warm_up=warm, env=store)
            hand = in_fresh_process("tests.benchmarks.scale_out:zip_in_memory", str(job.pk), warm_up=warm, env=store)
            zipped = client.head_object(Bucket=bucket, Key=f"jobs/{job.pk}/images.zip")["ContentLength"]
    finally:
        s3.stop()
    total = count * len(content) / 2**20
    return [
        Figure("10. Scale-out memory", f"ZIP of {count} × {len(content) / 2**20:.0f} MB images on S3: worker "
               "peak RSS rise", ours["peak_mib"], hand["peak_mib"], "MiB", goal="< 100 MiB",
               note=f"{total:,.0f} MB of outputs, ZIP {zipped / 2**20:,.0f} MB, built in {ours['seconds']:.1f} s "
                    f"(baseline {hand['seconds']:.1f} s); baseline: the same ZIP as a hand-written task builds it, "
                    "each file read whole (Offload's own way before this round)").check(lambda _: ours["peak_mib"] < 100),
    ]  # fmt: skip


def post_all(base_url: str, cookies: dict, headers: dict, requests: list[dict], clients: int = 4) -> list[str]:
    from concurrent.futures import ThreadPoolExecutor

    def post(request: dict) -> str:
        with httpx.Client(base_url=base_url, cookies=cookies, headers=headers, timeout=120) as client:
            response = client.post(request["path"], data=request.get("data"), files=request.get("files"))
            response.raise_for_status()
            return response.headers["HX-Push-Url"].rstrip("/").rsplit("/", 1)[1]

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(post, requests))


def curve(storage: str, smoke: bool, postgres_url: str) -> list[dict]:
    """Rates for 1, 2 and 4 worker processes on one storage; run in a process of its own."""
    from tests.s3_server import S3Server

    short_jobs, batches, images = (4, 1, 2) if smoke else (80, 3, 8)
    photos = [photo(2400, 1800, 90) for _ in range(images)]
    s3 = None
    settings = {"OFFLOAD_DEMO_ORDERS": "20000"}
    if storage == "s3":
        s3 = S3Server(Path(tempfile.mkdtemp(prefix="offload-bench-s3-")) / "moto.log").start()
        settings |= s3.environment(s3.new_bucket())
    rates = []
    try:
        with Stack(postgres_url, **settings) as stack:
            from reports.models import Job
            from tests.conftest import stop_process

            base_url = stack.start_web("uvicorn", workers=3)
            cookies, headers = stack.credentials()
            for processes in (1, 2) if smoke else (1, 2, 4):
                worker = stack.start_worker(concurrency=processes, empty_reports=False)
                for kind, requests, count in (
                    ("short", [{"path": "/reports/sales-summary/", "data": SALES_FORM}] * short_jobs, short_jobs),
                    ("images", [{"path": "/reports/images/", "data": IMAGE_OPTIONS,
                                 "files": [("images", (f"{n}.jpg", content, "image/jpeg"))
                                           for n, content in enumerate(photos)]}] * batches, batches * images),
                ):  # fmt: skip
                    started = time.perf_counter()
                    ids = post_all(base_url, cookies, headers, requests)
                    done = Job.objects.filter(pk__in=ids, status__in=Job.FINAL_STATUSES)
                    wait_until(lambda ids=ids, done=done: done.count() == len(ids), 900, f"{kind} jobs to end")
                    seconds = time.perf_counter() - started
                    assert not Job.objects.filter(pk__in=ids).exclude(status=Job.Status.SUCCEEDED).exists()
                    rates.append({"storage": storage, "processes": processes, "kind": kind, "rate": count / seconds})
                stop_process(worker)
                stack.processes.remove(worker)
    finally:
        if s3:
            s3.stop()
    return rates


def curve_figures(rates: list[dict], database: str) -> list[Figure]:
    figures = []
    for storage in ("disk", "s3"):
        for kind, unit in (("short", "jobs/s"), ("images", "images/s")):
            row = {r["processes"]: r["rate"] for r in rates if r["storage"] == storage and r["kind"] == kind}
            if not row:
                continue
            efficiency = ", ".join(f"{n}: {row[n] / (n * row[1]):.0%}" for n in sorted(row))
            label = {"disk": "local disk", "s3": "S3"}[storage]
            what = "short jobs (sales summaries, 4 downloads each)" if kind == "short" else "image batches (8 photos)"
            figures.append(
                Figure(
                    "11. Scaling curve",
                    f"{database}, {label}: {what}, {max(row)} vs 1 worker processes",
                    row[max(row)],
                    row[1],
                    unit,
                    ratio_as="ours/baseline",
                    goal="report",
                    note=f"1 / 2 / 4 processes: {' / '.join(f'{row[n]:.1f}' for n in sorted(row))} {unit}; "
                    f"efficiency per process {efficiency} (2 cores)",
                )  # fmt: skip
            )
    return figures


def in_own_process(*part: str, smoke: bool) -> list:
    """One part of this benchmark in a process of its own: each sets up its own Stack (Django is
    set up once per process). Its last line of output is JSON."""
    command = [sys.executable, "-m", "tests.benchmarks.scale_out", *part] + (["--smoke"] if smoke else [])
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if output.returncode:
        raise RuntimeError(f"scale_out {' '.join(part)} failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def run(smoke: bool = False, postgres_url: str = "") -> list[Figure]:
    from .__main__ import postgres_answers

    figures = [Figure(**fields) for part in ("zip", "upload") for fields in in_own_process(part, smoke=smoke)]
    postgres_url = postgres_url or os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    database = ["--postgres", postgres_url] if postgres_answers(postgres_url) and not smoke else []
    rates = [rate for storage in ("disk", "s3") for rate in in_own_process("curve", storage, *database, smoke=smoke)]
    return figures + curve_figures(rates, "PostgreSQL" if database else "SQLite")


if __name__ == "__main__":
    import argparse
    import dataclasses

    parser = argparse.ArgumentParser()
    parser.add_argument("part", choices=["zip", "upload", "curve"])
    parser.add_argument("storage", nargs="?", choices=["disk", "s3"])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--postgres", default="")
    arguments = parser.parse_args()
    if arguments.part == "curve":
        print(json.dumps(curve(arguments.storage, arguments.smoke, arguments.postgres)))
    else:
        part = {"zip": zip_memory, "upload": web_memory_on_a_big_upload}[arguments.part]
        print(json.dumps([dataclasses.asdict(figure) for figure in part(arguments.smoke)]))
