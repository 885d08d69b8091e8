"""What staff need to see of the machinery: queue lengths, workers online, recent failures, and
any job of anyone's, found and shown whole."""

import logging
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils.dateparse import parse_datetime
from django_celery_results.models import TaskResult

from project import celery_app
from reports.models import Job

logger = logging.getLogger(__name__)

INSPECT_TIMEOUT = 1.0
FAILURES_SHOWN = 20


@dataclass(frozen=True)
class Worker:
    name: str
    queues: list[str]
    running: int
    processes: int | None = None  # its pool's size; None if it did not say


def queue_lengths() -> dict[str, int] | None:
    """Messages waiting in each queue, as the broker counts them; None if it cannot be reached."""
    try:
        with celery_app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1)
            channel = connection.default_channel
            # Not passive: on Redis a queue nobody has bound yet simply counts 0 (kombu sums the
            # priority lists too, which a bare LLEN would miss).
            return {name: channel.queue_declare(queue=name).message_count for name in settings.CELERY_TASK_QUEUES}
    except Exception:
        logger.warning("Could not read the queue lengths", exc_info=True)
        return None


def workers_online() -> list[Worker] | None:
    """Workers that answer a broadcast within a second, with the queues they consume."""
    try:
        queues = celery_app.control.inspect(timeout=INSPECT_TIMEOUT).active_queues() or {}
        # Those that answered once are asked the rest without waiting out the timeout again.
        inspector = celery_app.control.inspect(timeout=INSPECT_TIMEOUT, limit=len(queues))
        active = (inspector.active() or {}) if queues else {}
        stats = (inspector.stats() or {}) if queues else {}
    except Exception:
        logger.warning("Could not ask the workers", exc_info=True)
        return None
    return [
        Worker(
            name,
            sorted(queue["name"] for queue in consumed),
            len(active.get(name, [])),
            pool_size(stats.get(name, {}).get("pool", {})),
        )
        for name, consumed in sorted(queues.items())
    ]


def pool_size(pool: dict) -> int | None:
    """Its processes as they are now (max-concurrency stays what the worker started with)."""
    processes = pool.get("processes")
    return len(processes) if isinstance(processes, list) else pool.get("max-concurrency")


def latest_failures(limit: int = FAILURES_SHOWN) -> list[Job]:
    """Failed jobs, newest first, each with `traceback`: ours, else the one Celery stored."""
    failures = list(
        Job.objects.filter(status=Job.Status.FAILED).select_related("owner").order_by("-finished_at")[:limit]
    )
    stored = dict(
        TaskResult.objects.filter(task_id__in=[job.task_id for job in failures]).exclude(traceback=None)
        .values_list("task_id", "traceback")
    )  # fmt: skip
    for job in failures:
        job.traceback = job.error_detail or stored.get(job.task_id) or ""
    return failures


SEARCH_RESULTS = 50


def find_jobs(query: str, limit: int = SEARCH_RESULTS) -> list[Job]:
    """Jobs of every user, newest first, matching `query`: a job id or task id (exactly), an
    error reference (exactly, any case), an owner's username, or words of an error message."""
    query = query.strip()
    if not query:
        return []
    matches = Q(owner__username__iexact=query) | Q(error_reference__iexact=query) | Q(task_id=query)
    with suppress(ValueError):  # not a job id
        matches |= Q(pk=uuid.UUID(query))
    if len(query) >= 3:  # a scan of every error message: not for a letter or two
        matches |= Q(error_message__icontains=query)
    return list(Job.objects.filter(matches).select_related("owner").defer("result").order_by("-created_at")[:limit])


@dataclass(frozen=True)
class Attempt:
    number: int
    worker: str
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str
    error: str = ""


def attempts(job: Job) -> list[Attempt]:
    """The job's attempts, oldest first: the earlier ones from its history, then the current one."""
    earlier = [
        Attempt(entry.get("attempt", 0), entry.get("worker", ""), parse_datetime(entry.get("started_at") or ""),
                parse_datetime(entry.get("ended_at") or ""), entry.get("outcome", ""), entry.get("error", ""))
        for entry in job.history
    ]  # fmt: skip
    current = Attempt(job.attempt, job.worker, job.started_at, job.finished_at, job.get_status_display(),
                      job.error_message)  # fmt: skip
    return [*earlier, current]


def traceback_of(job: Job) -> str:
    """Ours, else the one Celery stored for the job's task."""
    if job.error_detail:
        return job.error_detail
    stored = TaskResult.objects.filter(task_id=job.task_id).exclude(traceback=None).values_list("traceback", flat=True)
    return stored.first() or ""
