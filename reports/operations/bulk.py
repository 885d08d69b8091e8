"""Bulk actions: every job a filter matches retried, cancelled or deleted, by a worker, a chunk at
a time, with its progress on the Operations pages.

The operator confirms a count; the worker then acts only on jobs that were already in the
state the action applies to when it was confirmed (failed or finished by then, queued by then),
so a job that fails again after its retry is not retried a second time by the same action, and
a task handed back by the broker simply carries on with what is left.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from reports import kinds
from reports.engine import dispatch, jobs
from reports.models import AuditEntry, BulkAction, Job
from reports.operations import audit

logger = logging.getLogger(__name__)

# Jobs acted on per transaction: its progress is written after each.
CHUNK = 100

APPLIES_TO = {
    BulkAction.Action.RETRY: (Job.Status.FAILED,),
    BulkAction.Action.CANCEL: (Job.Status.QUEUED,),
    BulkAction.Action.DELETE: Job.FINAL_STATUSES,
}
# What "already in that state by the confirmation" is read from.
SINCE_FIELD = {
    BulkAction.Action.RETRY: "finished_at",
    BulkAction.Action.CANCEL: "created_at",
    BulkAction.Action.DELETE: "finished_at",
}
DONE_WORDS = {BulkAction.Action.RETRY: "retried", BulkAction.Action.CANCEL: "cancelled",
              BulkAction.Action.DELETE: "deleted"}  # fmt: skip


@dataclass(frozen=True)
class JobFilter:
    """Which jobs: every field optional, all of them together (AND)."""

    kind: str = ""
    status: str = ""
    owner: str = ""  # a username
    created_from: date | None = None
    created_to: date | None = None  # inclusive
    error_contains: str = ""

    def as_params(self) -> dict:
        values = asdict(self)
        for name in ("created_from", "created_to"):
            values[name] = values[name].isoformat() if values[name] else None
        return values

    @classmethod
    def from_params(cls, params: dict) -> "JobFilter":
        values = dict(params)
        for name in ("created_from", "created_to"):
            values[name] = date.fromisoformat(values[name]) if values.get(name) else None
        return cls(**values)

    def jobs(self) -> QuerySet:
        rows = Job.objects.all()
        if self.kind:
            rows = rows.filter(kind=self.kind)
        if self.status:
            rows = rows.filter(status=self.status)
        if self.owner:
            rows = rows.filter(owner__username=self.owner)
        if self.created_from:
            rows = rows.filter(created_at__gte=start_of(self.created_from))
        if self.created_to and self.created_to < date.max:  # 31 Dec 9999 bounds nothing
            rows = rows.filter(created_at__lt=start_of(self.created_to + timedelta(days=1)))
        if self.error_contains:
            rows = rows.filter(error_message__icontains=self.error_contains)
        return rows

    def describe(self) -> str:
        """The filter in words, for the confirmation and the audit log."""
        words = []
        if self.kind:
            words.append(f"kind {kinds.label(self.kind)}")
        if self.status:
            words.append(f"status {Job.Status(self.status).label.lower()}")
        if self.owner:
            words.append(f"owner {self.owner}")
        if self.created_from and self.created_to:
            words.append(f"created {day(self.created_from)} to {day(self.created_to)}")
        elif self.created_from:
            words.append(f"created on or after {day(self.created_from)}")
        elif self.created_to:
            words.append(f"created on or before {day(self.created_to)}")
        if self.error_contains:
            words.append(f"error containing “{self.error_contains}”")
        return ", ".join(words) or "every job"


def start_of(day_: date) -> datetime:
    return timezone.make_aware(datetime.combine(day_, time.min))


def day(value: date) -> str:
    return date_format(value, "j M Y")


def matching(action: str, job_filter: JobFilter, until: datetime | None = None) -> QuerySet:
    """The jobs `action` applies to among those the filter matches (by `until`, if given)."""
    rows = job_filter.jobs().filter(status__in=APPLIES_TO[action])
    if until is not None:
        rows = rows.filter(**{f"{SINCE_FIELD[action]}__lte": until})
    return rows


def confirm(user, action: str, job_filter: JobFilter) -> BulkAction:
    """Record the operator's confirmed action (and its audit entry), and queue its task."""
    with transaction.atomic():
        bulk = BulkAction.objects.create(
            actor=user, actor_name=user.get_username(), action=action, filters=job_filter.as_params(),
            description=job_filter.describe()[:500],
        )  # fmt: skip
        bulk.matched = matching(action, job_filter, until=bulk.created_at).count()
        bulk.audit = audit.record(user, bulk.get_action_display(), f"{bulk.description}: queued", jobs=bulk.matched)
        bulk.save(update_fields=["matched", "audit"])
        transaction.on_commit(lambda: publish(bulk))
    return bulk


NOT_QUEUED = "The task queue could not be reached, so nothing was done. Try again in a minute."


def publish(bulk: BulkAction) -> None:
    try:
        dispatch.send(
            dispatch.RUN_BULK_ACTION,
            [str(bulk.pk)],
            task_id=bulk.task_id,
            retry=True,
            retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY,
        )
    except Exception:
        logger.exception("Could not queue bulk action %s", bulk.pk)
        end(bulk.pk, BulkAction.Status.FAILED, NOT_QUEUED)


def run(bulk_id) -> BulkAction | None:
    """The worker's part: act on every matching job, a chunk per transaction, then record the outcome."""
    now = timezone.now()
    if not BulkAction.objects.filter(
        pk=bulk_id, status__in=(BulkAction.Status.QUEUED, BulkAction.Status.RUNNING)
    ).update(status=BulkAction.Status.RUNNING):
        return None
    BulkAction.objects.filter(pk=bulk_id, started_at=None).update(started_at=now)
    bulk = BulkAction.objects.get(pk=bulk_id)
    rows = matching(bulk.action, JobFilter.from_params(bulk.filters), until=bulk.created_at)
    rows = rows.defer("result", "params", "error_detail").order_by("pk")
    last = None
    while chunk := list((rows if last is None else rows.filter(pk__gt=last))[:CHUNK]):
        last = chunk[-1].pk  # read first: deleting a job sets its pk to None
        done, errors = act(bulk.action, chunk)
        BulkAction.objects.filter(pk=bulk_id).update(done=F("done") + done, errors=F("errors") + errors)
    bulk.refresh_from_db()
    bulk.skipped = max(bulk.matched - bulk.done - bulk.errors, 0)
    bulk.save(update_fields=["skipped"])
    end(bulk_id, BulkAction.Status.DONE)
    return bulk


def act(action: str, chunk: list[Job]) -> tuple[int, int]:
    """Act on each job of the chunk: (how many were acted on, how many raised)."""
    done = errors = 0
    for job in chunk:
        try:
            with transaction.atomic():
                done += ACT[action](job)
        except Exception:
            errors += 1
            logger.exception("Bulk %s of job %s failed", action, job.pk)
    if action == BulkAction.Action.CANCEL:
        jobs.revoke_tasks([job.task_id for job in chunk])
    return done, errors


def retry(job: Job) -> bool:
    """A failed job back to the queue, with its inputs as new (the kind's reset_inputs)."""
    if not jobs.retry(job):
        return False
    reset_inputs = kinds.shown(job.kind).reset_inputs
    if reset_inputs:
        reset_inputs(job)
    return True


def cancel(job: Job) -> bool:
    """Only while it is still queued: one that started since the chunk was read is left alone."""
    return jobs.cancel(job, revoke=False, statuses=(Job.Status.QUEUED,))


def delete(job: Job) -> bool:
    """Only while it is still finished, read again under a lock: one retried since the chunk was
    read is left alone."""
    current = Job.objects.select_for_update().filter(pk=job.pk, status__in=Job.FINAL_STATUSES).first()
    return current is not None and jobs.delete_job(current)


ACT = {BulkAction.Action.RETRY: retry, BulkAction.Action.CANCEL: cancel, BulkAction.Action.DELETE: delete}


def end(bulk_id, status: str, message: str = "") -> None:
    BulkAction.objects.filter(pk=bulk_id).update(status=status, error_message=message, finished_at=timezone.now())
    bulk = BulkAction.objects.filter(pk=bulk_id).first()
    if bulk and bulk.audit_id:
        # The log says what was done, not only what was asked.
        outcome = message or outcome_words(bulk)
        AuditEntry.objects.filter(pk=bulk.audit_id).update(
            jobs=bulk.done, detail=f"{bulk.description}: {outcome}"[:500]
        )


def outcome_words(bulk: BulkAction) -> str:
    words = f"{bulk.done:,} of {bulk.matched:,} {DONE_WORDS[bulk.action]}"
    if bulk.skipped:
        words += f"; {bulk.skipped:,} had moved on before the worker reached them"
    if bulk.errors:
        words += f"; {bulk.errors:,} could not be (see the worker's log)"
    return words


def recent(limit: int = 10) -> list[BulkAction]:
    return list(BulkAction.objects.order_by("-created_at")[:limit])
