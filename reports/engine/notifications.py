"""Telling people a job has ended: by email if they asked, and by a notice on whatever page
they have open (rendered into polled fragments as an out-of-band swap)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from reports import kinds
from reports.engine import dispatch
from reports.models import Job

logger = logging.getLogger(__name__)

# Jobs that ended longer ago than this are history, not news: no notice for them.
NOTICE_WINDOW = timedelta(hours=12)
MAX_NOTICES = 3
NOTICE_FIELDS = ("id", "owner_id", "kind", "params", "status", "finished_at")


def email_when_asked(job_id) -> None:
    """Queue the email for a job whose owner asked for one. Runs after the commit that ended it."""
    if not Job.objects.filter(pk=job_id, notify_by_email=True).exclude(owner__email="").exists():
        return
    try:
        dispatch.send(dispatch.EMAIL_JOB_ENDED, [str(job_id)])
    except Exception:  # the broker is down: the job page still says how it ended
        logger.warning("Could not queue the email for job %s", job_id, exc_info=True)


def send_job_email(job_id) -> bool:
    job = Job.objects.select_related("owner").filter(pk=job_id).first()
    if job is None or not job.is_finished or not job.owner.email:
        return False
    link = settings.OFFLOAD_SITE_URL.rstrip("/") + job.get_absolute_url()
    context = {"job": job, "link": link, "name": job.owner.get_short_name() or job.owner.get_username()}
    subject = f"Offload: your {kinds.in_sentence(job.get_kind_display())} {job.get_status_display().lower()}"
    body = render_to_string("reports/email/job_ended.txt", context)
    send_mail(subject, body, None, [job.owner.email])
    return True


def unannounced() -> Q:
    """Jobs that ended recently and whose notice has not been shown yet."""
    return Q(status__in=Job.FINAL_STATUSES, notice_shown=False, finished_at__gte=timezone.now() - NOTICE_WINDOW)


def updates(user, page_polls: bool, waiting: list[str] | None = None) -> dict:
    """What a page or polled fragment shows of the user's other jobs: notices of those that
    ended recently and were not announced yet (marked announced now), and whether the page needs
    the notice poller: it does while a job is active, unless it polls for something else already
    and carries the notices on that poll.

    One query on a page that polls anyway (it runs on every poll), two on one that does not;
    none on a poll that has just asked `pending` (`waiting`) and heard of no notice.
    Active jobs are only asked about, never read: someone with hundreds queued pays nothing.
    """
    if not user.is_authenticated:
        return {"notices": [], "poll": False}
    nothing_waiting = waiting is not None and not waiting
    # Querysets are built only when asked: on a poll with nothing waiting there is nothing to ask.
    # Only what a notice shows: a job's result can be large (a wide CSV profile), never worth decoding here.
    notices = (
        []
        if nothing_waiting
        else list(Job.objects.for_user(user).filter(unannounced()).only(*NOTICE_FIELDS).order_by("-finished_at"))
    )
    if notices:
        Job.objects.filter(pk__in=[job.pk for job in notices]).update(notice_shown=True)
    poll = not page_polls and Job.objects.for_user(user).active().exists()
    # Three at once is plenty to read; the rest are marked announced all the same.
    return {"notices": notices[:MAX_NOTICES], "poll": poll}


def pending(user, exclude=None) -> list:
    """The ids of the user's jobs a notice is waiting for, but `exclude` (one query; nothing is marked).

    It runs on every poll, so it is kept cheap to build: Django spends far longer building a
    query than SQLite answers it (one filter() here, and `exclude` dropped in Python, take
    ~230 µs, where the same as an Exists in the job's own query added ~420 µs to it).
    """
    waiting = Job.objects.filter(unannounced(), owner=user).values_list("pk", flat=True)
    return [str(pk) for pk in waiting if pk != exclude]


def seen(job: Job) -> None:
    """The owner has looked at this finished job: no notice for it elsewhere."""
    if job.is_finished and not job.notice_shown:
        Job.objects.filter(pk=job.pk).update(notice_shown=True)
        job.notice_shown = True
