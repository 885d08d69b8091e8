"""Click to start, and throughput: the product's path (an htmx POST to uvicorn → a Job row →
Redis → a worker) against raw Celery (apply_async of a no-op task) on the same Redis, the same
result backend and the same two-process worker, in the same run.

The benchmark worker runs the reports with their work emptied (worker_app.py), so what is
measured is Offload's machinery: the form, the job row, publishing, starting, progress, the
result, the notices; not the sales summary itself.
"""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from .figures import Figure
from .stack import Stack, wait_until

SALES_FORM = {"date_from": "2025-01-01", "date_to": "2025-01-31", "group_by": "region", "metric": "orders"}


def post_job(client: httpx.Client) -> str:
    response = client.post("/reports/sales-summary/", data=SALES_FORM)
    response.raise_for_status()
    return response.headers["HX-Push-Url"].rstrip("/").rsplit("/", 1)[1]


def click_to_start(stack: Stack, base_url: str, rounds: int) -> tuple[list[float], list[float], list[float]]:
    """Milliseconds from the POST (or apply_async) to the task running in the worker; and of
    ours, the part from the POST to the Job row written (the Django request up to the publish)."""
    from reports.models import Job
    from tests.benchmarks.worker_app import noop

    cookies, headers = stack.credentials()
    ours, raw, request = [], [], []
    with httpx.Client(base_url=base_url, cookies=cookies, headers=headers, timeout=30) as client:
        for number in range(rounds + 2):  # the first two warm up connections and code paths
            sent = time.time()
            job_id = post_job(client)
            job = Job.objects.filter(pk=job_id)
            started = wait_until(lambda job=job: job.values_list("started_at", flat=True)[0], 30, "the job to start")
            created = job.values_list("created_at", flat=True)[0]
            wait_until(lambda job=job: job.get().is_finished, 30, "the job to end")
            sent_raw = time.time()
            started_raw = noop.apply_async().get(timeout=30)
            if number >= 2:
                ours.append(1000 * (started.timestamp() - sent))
                request.append(1000 * (created.timestamp() - sent))
                raw.append(1000 * (started_raw - sent_raw))
    return ours, raw, request


def throughput(stack: Stack, base_url: str, jobs: int, clients: int = 4) -> tuple[float, float]:
    """Jobs per second from the first POST to every Job row final; and raw no-op tasks per
    second from the first apply_async to every result stored."""
    from django_celery_results.models import TaskResult

    from reports.models import Job
    from tests.benchmarks.worker_app import noop

    cookies, headers = stack.credentials()
    before = Job.objects.count()

    def submit(count: int) -> None:
        with httpx.Client(base_url=base_url, cookies=cookies, headers=headers, timeout=60) as client:
            for _ in range(count):
                post_job(client)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(submit, [jobs // clients + (1 if n < jobs % clients else 0) for n in range(clients)]))
    final = Job.objects.filter(status__in=Job.FINAL_STATUSES)
    wait_until(lambda: final.count() - before >= jobs, 600, "every job to end")
    ours = jobs / (time.perf_counter() - started)

    started = time.perf_counter()
    ids = [noop.apply_async().id for _ in range(jobs)]
    wait_until(lambda: TaskResult.objects.filter(task_id__in=ids, status="SUCCESS").count() == jobs, 600,
               "every no-op to end", )  # fmt: skip
    raw = jobs / (time.perf_counter() - started)
    return ours, raw


def run(smoke: bool = False, postgres_url: str = "") -> list[Figure]:
    rounds, jobs = (2, 6) if smoke else (30, 400)
    database = "PostgreSQL" if postgres_url else "SQLite"
    with Stack(postgres_url) as stack:
        stack.start_worker(concurrency=2)
        base_url = stack.start_web("uvicorn", workers=3)
        figures = []
        if not postgres_url:
            ours, raw, request = click_to_start(stack, base_url, rounds)
            to_row = statistics.median(request)
            figures.append(
                Figure("1. Click to start", "POST → task running, median", statistics.median(ours),
                       statistics.median(raw), "ms", goal="≤ 1.2×",
                       note=f"{rounds} rounds, one at a time, htmx POST to uvicorn vs apply_async of a no-op; "
                            f"p95 {sorted(ours)[int(0.95 * (len(ours) - 1))]:.1f} vs "
                            f"{sorted(raw)[int(0.95 * (len(raw) - 1))]:.1f} ms; of ours, POST → Job row written "
                            f"{to_row:.1f} ms (the Django request before the publish), row → running "
                            f"{statistics.median(ours) - to_row:.1f} ms").check(lambda r: r <= 1.2)
            )  # fmt: skip
        ours_rate, raw_rate = throughput(stack, base_url, jobs)
        figures.append(
            Figure("4. Throughput", f"{database}: short jobs end to end", ours_rate, raw_rate, "jobs/s",
                   ratio_as="ours/baseline", goal="≥ 0.5×",
                   note=f"{jobs} jobs posted by 4 clients to uvicorn (3 workers), one worker with 2 processes; "
                        "baseline: as many no-op tasks, results in the same django-db backend").check(lambda r: r >= 0.5)
        )  # fmt: skip
    return figures
