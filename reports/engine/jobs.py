"""The job lifecycle: create, enqueue after commit, start, progress, finish, fail.

Every status change is a conditional UPDATE guarded by the states it may come from, so a late
or repeated message (a retried task, a worker that died and was replaced) never moves a
finished job backwards.
"""

import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from reports import kinds
from reports.engine import dispatch, events, leases
from reports.engine.files import copy_to, delete_folder, local_path
from reports.models import Job, JobArtifact, new_task_id

logger = logging.getLogger(__name__)

BROKER_DOWN_MESSAGE = (
    "The task queue could not be reached, so this job was not started. "
    "Nothing was lost: try again in a minute, and if it keeps happening tell your administrator."
)


UNKNOWN_KIND_MESSAGE = "This kind of job is no longer offered here, so it was not started."


class JobNotRunning(Exception):
    """The job was cancelled, finished or deleted while work was under way: stop quietly."""


class JobGone(Exception):
    """The job was deleted while something was being done with it (Run again, a download)."""


class TooManyActiveJobs(Exception):
    """The owner already has as many queued or running jobs as the limit allows."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(
            f"You already have {limit} jobs queued or running, the most at once. "
            "Wait for one to finish, or cancel one, then try again."
        )


def new_reference() -> str:
    """A short id a user can quote and staff can find in the log."""
    return secrets.token_hex(4).upper()


def create_job(owner, kind: str, params: dict, input_file=None, add_inputs=None, **fields) -> Job:
    """Write the Job row (and, through add_inputs, rows that belong to it), then enqueue its
    task once they are committed.

    Returns the job as it stands after the attempt: queued, or failed if the broker was down.
    """
    with transaction.atomic():
        limit = settings.OFFLOAD_MAX_ACTIVE_JOBS
        if limit:
            # Lock the owner's row so two quick clicks cannot both slip under the limit. SQLite
            # needs no lock: its transactions begin IMMEDIATE (settings.py), one writer at a time.
            if connection.features.has_select_for_update:
                get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
            if Job.objects.for_user(owner).active().count() >= limit:
                raise TooManyActiveJobs(limit)
        job = Job.objects.create(owner=owner, kind=kind, params=params, input_file=input_file or "", **fields)
        if add_inputs:
            add_inputs(job)
        # A worker must never look for a row that is not committed yet.
        transaction.on_commit(lambda: enqueue(job))
    return job


def enqueue(job: Job) -> bool:
    try:
        kind = kinds.get(job.kind)  # in the try: a kind no longer declared fails this job, not the caller's loop
        dispatch.send(
            kind.task,
            [str(job.pk)],
            task_id=job.task_id,
            queue=kind.queue,
            retry=True,
            retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY,
        )
    except kinds.UnknownKind:
        logger.error("Job %s is of kind %r, which is not declared here; failed", job.pk, job.kind)
        fail(job.pk, UNKNOWN_KIND_MESSAGE)
        job.status, job.error_message = Job.Status.FAILED, UNKNOWN_KIND_MESSAGE
        return False
    except Exception:  # kombu's OperationalError, redis' ConnectionError, socket errors alike
        reference = new_reference()
        logger.exception("Could not enqueue job %s (reference %s)", job.pk, reference)
        fail(job.pk, BROKER_DOWN_MESSAGE, reference)
        job.status, job.error_message, job.error_reference = Job.Status.FAILED, BROKER_DOWN_MESSAGE, reference
        return False
    return True


def start(job_id) -> Job | None:
    """Mark a job running as its current attempt, and read it for the task. None when this
    delivery should not run it (finished, cancelled, gone, or running elsewhere).

    A job already running was handed back by the broker. While its attempt holds its lease
    (leases.py) it is alive elsewhere and this delivery is skipped: a duplicate, or the dead
    attempt's own message after the rescue check restarted it. If the attempt is dead (its lease
    lapsed, or its process on this machine is gone) the job starts again as its next attempt, up
    to OFFLOAD_MAX_RESTARTS times; after that it is failed, since it is what kills its workers.
    """
    now = timezone.now()
    fields = {"status": Job.Status.RUNNING, "started_at": now, "heartbeat_at": now, "progress": 0, "step": "Starting",
              "worker": leases.this_process()}  # fmt: skip
    started = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(**fields)
    if not started:
        running = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).first()
        if running is None:
            return None
        if not attempt_is_dead(running):
            logger.info("Job %s is running elsewhere (attempt %s); this delivery skipped", job_id, running.attempt)
            return None
        if running.restarts >= settings.OFFLOAD_MAX_RESTARTS:
            fail_crashed(job_id, running.attempt)
            return None
        started = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, attempt=running.attempt).update(
            restarts=F("restarts") + 1, attempt=F("attempt") + 1,
            history=history_with(job_id, "Its worker died: handed back by the broker and started again"), **fields,
        )  # fmt: skip
        if started:
            logger.warning("Job %s was handed back after its worker died; starting it again", job_id)
    if started:
        job = Job.objects.filter(pk=job_id).first()  # None: deleted this instant
        if job is not None:
            events.job_changed(job_id, job.owner_id)  # with its owner: the job's events need no query for it
        return job
    return None


def unleased_kinds() -> list[str]:
    """Kinds not run under a job's lease (kinds.JobKind.leased): an image batch's work is its
    per-image tasks, each under a lease of its own (batches.rescue_images); its fan-out and ZIP
    are short, and are handed back by the broker if their worker dies."""
    return [kind.name for kind in kinds.all_kinds() if not kind.leased]


def attempt_is_dead(job: Job) -> bool:
    if job.kind in unleased_kinds():
        return True  # handed back by the broker: its worker is gone
    holder = leases.holder(job.pk)
    if lease_lapsed(job, holder):
        if job.heartbeat_at is None or timezone.now() - job.heartbeat_at > lease_duration():
            return True
        # Young enough not to have taken its lease yet: alive, unless it ran here and its process is gone.
        return leases.is_dead_process_here(job.worker)
    return holder.is_dead_process_here()


def lease_lapsed(job: Job, holder: leases.Holder | None) -> bool:
    """No lease for the job's current attempt (expired, never taken, or an older attempt's)."""
    return holder is None or holder.attempt != job.attempt


def lease_duration() -> timedelta:
    return timedelta(seconds=settings.OFFLOAD_LEASE_SECONDS)


def fail_crashed(job_id, attempt: int | None = None) -> None:
    reference = new_reference()
    if fail(job_id, crashed_message(settings.OFFLOAD_MAX_RESTARTS + 1), reference, attempt=attempt):
        logger.error("Job %s stopped its worker %s times; failed (reference %s)", job_id,
                     settings.OFFLOAD_MAX_RESTARTS + 1, reference)  # fmt: skip


RESCUE_FIELDS = ("id", "owner_id", "kind", "task_id", "attempt", "restarts", "heartbeat_at")


def rescue_orphans() -> int:
    """Beat runs this every few seconds: running jobs whose attempt lost its lease (its worker
    died) go back to the queue as their next attempt, and if Redis lost its data, queued jobs
    are published again. Returns the number of jobs rescued or republished.

    Cheap when nothing is wrong: one query for running jobs with no progress for a lease's
    length, one Redis round trip for their leases, one SET for the data-loss marker.
    """
    count = republish_queued() if leases.redis_lost_its_data() else 0
    quiet = Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=timezone.now() - lease_duration())
    candidates = list(quiet.exclude(kind__in=unleased_kinds()).only(*RESCUE_FIELDS))
    held = leases.holders([job.pk for job in candidates])
    return count + sum(rescue(job) for job in candidates if lease_lapsed(job, held[str(job.pk)]))


def rescue(job: Job) -> int:
    """Hand a job whose attempt died back to the queue as its next attempt (or fail it at the cap)."""
    if job.restarts >= settings.OFFLOAD_MAX_RESTARTS:
        fail_crashed(job.pk, job.attempt)
        return 1
    with transaction.atomic():
        requeued = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempt=job.attempt).update(
            status=Job.Status.QUEUED, attempt=F("attempt") + 1, restarts=F("restarts") + 1, progress=0,
            step="Waiting for a worker to start it again",
            history=history_with(job.pk, "Its worker died (lease lapsed): queued again"),
        )  # fmt: skip
        if not requeued:
            return 0  # it moved on meanwhile (ended, cancelled, or rescued by another check)
        discard_outputs(job)  # what the dead attempt had written
        events.job_changed(job.pk, job.owner_id)
        transaction.on_commit(lambda: enqueue(job))
    logger.warning("Job %s lost its worker during attempt %s; queued again", job.pk, job.attempt)
    return 1


def republish_queued() -> int:
    """Publish every queued job's task again: Redis lost its data, and their messages with it.

    A job whose message was not lost after all gets two; the first to start claims it, and the
    other finds it running under a lease and is skipped.
    """
    queued = list(Job.objects.filter(status=Job.Status.QUEUED).only("id", "owner_id", "kind", "task_id"))
    for job in queued:
        enqueue(job)
    if queued:
        logger.warning("Redis had lost its data: published %s queued job(s) again", len(queued))
    return len(queued)


def crashed_message(times: int) -> str:
    return (
        f"This job stopped the worker running it {times} times, so it was not tried again. It may need more "
        "memory than a worker has: try a smaller input, and quote the reference if it keeps happening."
    )


def set_progress(job_id, percent: float, step: str, attempt: int | None = None) -> None:
    """`attempt`: write only while the job is still on that attempt (a frozen attempt that wakes
    after it was rescued stops here: JobNotRunning)."""
    updated = running(job_id, attempt).update(
        progress=max(0, min(int(percent), 99)), step=step[:200], heartbeat_at=timezone.now()
    )
    if not updated:
        raise JobNotRunning(job_id)
    events.job_changed(job_id)


def running(job_id, attempt: int | None = None):
    """The job while it runs (on `attempt`, if given): what an attempt's writes are guarded by."""
    rows = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING)
    return rows if attempt is None else rows.filter(attempt=attempt)


def succeed(job_id, result: dict, *, notify_by_email: bool | None = None, attempt: int | None = None) -> bool:
    """`notify_by_email`: the job's own flag when the caller has read the row (it is set when the
    job is made and never changes), which saves asking the database on every job that ends."""
    return ended(
        running(job_id, attempt).update(
            status=Job.Status.SUCCEEDED, progress=100, step="Done", result=result, finished_at=timezone.now()
        ),
        job_id,
        notify_by_email,
    )


def fail(job_id, message: str, reference: str = "", detail: str = "", *, attempt: int | None = None) -> bool:
    """`message` is for the owner; `detail` (a traceback) is for staff only."""
    rows = Job.objects.filter(pk=job_id, status__in=Job.ACTIVE_STATUSES)
    return ended(
        (rows if attempt is None else rows.filter(attempt=attempt)).update(
            status=Job.Status.FAILED,
            step="Failed",
            error_message=message,
            error_reference=reference or new_reference(),
            error_detail=detail,
            finished_at=timezone.now(),
        ),
        job_id,
    )


def ended(updated: int, job_id, notify_by_email: bool | None = None) -> bool:
    """After a job reached its end on its own (not cancelled by its owner): email if asked."""
    if updated:
        from reports.engine.notifications import email_when_asked  # notifications' task imports this module

        events.job_changed(job_id, ended=True)
        if notify_by_email is not False:
            transaction.on_commit(lambda: email_when_asked(job_id))
    return bool(updated)


class ProgressRecorder:
    """The progress callback a task hands to pure work: writes at most every `interval` seconds.

    A new step sentence is always written (there are few); percentages in between are
    throttled, and only the two columns that change are touched.
    """

    def __init__(self, job_id, interval: float | None = None, attempt: int | None = None):
        self.job_id, self.attempt = job_id, attempt
        self.interval = settings.OFFLOAD_PROGRESS_INTERVAL if interval is None else interval
        self.last_write = 0.0
        self.last_step = None

    def __call__(self, percent: float, step: str = "") -> None:
        now = time.monotonic()
        if step == self.last_step and now - self.last_write < self.interval:
            return
        set_progress(self.job_id, percent, step or self.last_step or "", self.attempt)
        self.last_write, self.last_step = now, step


def save_artifact(
    job: Job, name: str, label: str, content_type: str, content: File | bytes, *, attempt: int | None = None
) -> JobArtifact:
    """Store an output file; saving one of the same name again replaces it (a retry adds nothing).

    `content` is a file (read in chunks: a large output never sits in memory whole) or, for a
    small export made in memory, its bytes. `attempt`: only while the job is still on it, so an
    attempt that was rescued never replaces the downloads of the attempt that took over.
    """
    if attempt is not None and not running(job.pk, attempt).exists():
        raise JobNotRunning(job.pk)
    for old in JobArtifact.objects.filter(job=job, name=name):
        old.file.delete(save=False)
        old.delete()
    if isinstance(content, bytes):
        content = ContentFile(content)
    artifact = JobArtifact(job=job, name=name, label=label, content_type=content_type, size=content.size)
    artifact.file.save(name, content, save=False)
    artifact.save()
    return artifact


class JobFiles:
    """What a kind's function is given for files: `save()` a download of the job, and open its
    uploaded `input()` as a local path. Bound to the attempt running, so an attempt that was
    superseded (its worker presumed dead, the job started again) never replaces the downloads of
    the attempt that took over: it stops with JobNotRunning."""

    def __init__(self, job: Job, attempt: int | None = None):
        self.job, self.attempt = job, attempt

    @property
    def job_id(self):
        return self.job.pk

    def save(self, name: str, label: str, content_type: str, content: File | bytes) -> JobArtifact:
        """Store a download (a file, read in chunks, or bytes), shown on the page as `label`;
        saving one of the same name again replaces it."""
        return save_artifact(self.job, name, label, content_type, content, attempt=self.attempt)

    @contextmanager
    def input(self) -> Iterator[Path]:
        """The uploaded input (the form's `input_file`) as a local file, for as long as the block lasts."""
        with local_path(self.job.input_file) as path:
            yield path


def cancel(job: Job, revoke: bool = True, statuses=Job.ACTIVE_STATUSES) -> bool:
    """Cancel a queued or running job. A queued one never starts; a running one stops at its next
    progress write. Its partial outputs are removed now, and again by the task if it wrote more.

    `revoke=False`: the caller revokes many jobs' tasks in one broadcast (a bulk cancel).
    `statuses`: only from these (a bulk cancel of queued jobs leaves one that has just started).
    """
    cancelled = bool(
        Job.objects.filter(pk=job.pk, status__in=statuses).update(
            status=Job.Status.CANCELLED, step="Cancelled", finished_at=timezone.now()
        )
    )
    if cancelled:
        events.job_changed(job.pk, job.owner_id, ended=True)
        if revoke:
            revoke_tasks([job.task_id])
        discard_outputs(job)
        job.refresh_from_db()
    return cancelled


def revoke_tasks(task_ids: list[str]) -> None:
    """Saves a worker the trip for a queued job; a running one stops by itself at its next
    progress write, and a job that was not revoked is skipped when it starts."""
    from project import celery_app

    try:
        celery_app.control.revoke(task_ids)
    except Exception:
        logger.warning("Could not send revoke for %s task(s); they will be skipped when they start", len(task_ids))


def retry(job: Job) -> bool:
    """A failed job back to the queue as its next attempt, under a new task id (an operator's
    retry): its error goes into its history, its partial outputs are removed, and its owner
    gets a notice again when it ends. The owner's active-job cap does not apply."""
    fields = {"status": Job.Status.QUEUED, "attempt": F("attempt") + 1, "restarts": 0, "progress": 0,
              "step": "Queued again by an operator", "error_message": "", "error_reference": "",
              "error_detail": "", "started_at": None, "finished_at": None, "heartbeat_at": None,
              "notice_shown": False, "task_id": new_task_id()}  # fmt: skip
    with transaction.atomic():
        history = history_with(job.pk, "Failed: retried by an operator", job.error_message)
        if not Job.objects.filter(pk=job.pk, status=Job.Status.FAILED).update(history=history, **fields):
            return False
        job.task_id = fields["task_id"]
        discard_outputs(job)
        events.job_changed(job.pk, job.owner_id)
        transaction.on_commit(lambda: enqueue(job))
    return True


def discard_outputs(job: Job) -> None:
    """Remove what a job produced (not its inputs): downloads and processed images, and any file
    under its outputs' folder that no row knew of (written by an attempt killed before it
    recorded it)."""
    JobArtifact.objects.filter(job=job).delete()
    delete_folder(default_storage, f"jobs/{job.pk}")


def delete_job(job: Job) -> bool:
    """Delete a finished job with every file it has, inputs included. The rows go first, under
    the row's lock, and the files once that has committed: a Run again or a download that began
    before sees either the whole job or none of it (JobGone, a 404), never half its files."""
    with transaction.atomic():
        locked = Job.objects.select_for_update().filter(pk=job.pk).first()
        if locked is None:
            return True  # deleted already (a double click, or the nightly clean-up)
        if locked.status not in Job.FINAL_STATUSES:
            return False
        job_id = locked.pk
        locked.delete()  # cascades to its artifacts, images and ledger

        def remove_files() -> None:
            delete_folder(default_storage, f"jobs/{job_id}")
            delete_folder(default_storage, f"uploads/{job_id}")  # its inputs: the CSV, or the images

        transaction.on_commit(remove_files)
    return True


def run_again(job: Job) -> Job:
    """A new job with the same parameters and copies of the same inputs (the upload, and what
    the kind's copy_inputs copies)."""
    copy_inputs = kinds.shown(job.kind).copy_inputs

    def add_inputs(new: Job) -> None:
        # Locked while its files are copied: a delete waits (SQLite has no row locks, so a file
        # that vanishes mid-copy says the same).
        if not Job.objects.select_for_update().filter(pk=job.pk).exists():
            raise JobGone("This job was deleted, so there is nothing to run again.")
        try:
            if job.input_file:
                copy_to(job.input_file, new.input_file, "input.csv")
                new.save(update_fields=["input_file"])
            if copy_inputs:
                copy_inputs(job, new)
        except FileNotFoundError:
            raise JobGone("This job was deleted, so there is nothing to run again.") from None

    return create_job(job.owner, job.kind, job.params, add_inputs=add_inputs, notify_by_email=job.notify_by_email)


def jobs_ahead(job: Job) -> int:
    """Queued jobs, anyone's, that a worker will take before this one."""
    if job.status != Job.Status.QUEUED:
        return 0
    return Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=job.created_at).count()


MAX_HISTORY = 20


def history_with(job_id, outcome: str, error: str = "") -> list[dict]:
    """The job's history of attempts (for staff), with its current attempt added as ended now.
    Only on the paths where an attempt ends without ending the job: one small read."""
    row = Job.objects.filter(pk=job_id).values("attempt", "worker", "started_at", "history").first()
    if row is None:
        return []
    started = row["started_at"].isoformat() if row["started_at"] else ""
    entry = {"attempt": row["attempt"], "worker": row["worker"], "started_at": started,
             "ended_at": timezone.now().isoformat(), "outcome": outcome, "error": error[:500]}  # fmt: skip
    return [*row["history"], entry][-MAX_HISTORY:]


def retry_later(job_id, attempt: int, attempts: int, current: int | None = None, error: str = "") -> None:
    """Back to queued while a temporary problem passes, as the next attempt (if still on
    `current`); the page shows which try of the temporary problem's `attempts` comes next."""
    try:
        running(job_id, current).update(
            status=Job.Status.QUEUED, attempt=F("attempt") + 1,
            step=f"Retrying (attempt {attempt} of {attempts}) after a temporary problem",
            history=history_with(job_id, "Temporary problem: retried", error),
        )  # fmt: skip
        events.job_changed(job_id)
    except Exception:  # the database may be the problem; the retry is scheduled all the same
        logger.warning("Could not record the retry of job %s", job_id, exc_info=True)


LOST_MESSAGE = (
    "The worker running this job stopped responding (it may have been restarted or its machine "
    "lost), so the job was stopped. Run it again; nothing else was affected."
)


def fail_lost(minutes: float) -> int:
    """Fail running jobs with no progress written for `minutes`: their worker is gone."""
    cutoff = timezone.now() - timedelta(minutes=minutes)
    lost = Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff)
    count = 0
    for job_id in lost.values_list("pk", flat=True):
        count += fail(job_id, LOST_MESSAGE)
    if count:
        logger.warning("Marked %s job(s) as lost after %s minutes without progress", count, minutes)
    return count


def delete_older_than(days: int) -> int:
    cutoff = timezone.now() - timedelta(days=days)
    old = Job.objects.finished().filter(finished_at__lt=cutoff)
    deleted = sum(delete_job(job) for job in old.iterator())
    if deleted:
        logger.info("Deleted %s job(s) finished more than %s days ago", deleted, days)
    return deleted
