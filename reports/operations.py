"""What staff need to see of the machinery: queue lengths, workers online, recent failures."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django_celery_results.models import TaskResult

from project import celery_app

from .models import Job

logger = logging.getLogger(__name__)

INSPECT_TIMEOUT = 1.0
FAILURES_SHOWN = 20


@dataclass(frozen=True)
class Worker:
    name: str
    queues: list[str]
    running: int


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
        inspector = celery_app.control.inspect(timeout=INSPECT_TIMEOUT)
        queues = inspector.active_queues() or {}
        active = (inspector.active() or {}) if queues else {}
    except Exception:
        logger.warning("Could not ask the workers", exc_info=True)
        return None
    return [
        Worker(name, sorted(queue["name"] for queue in consumed), len(active.get(name, [])))
        for name, consumed in sorted(queues.items())
    ]


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
