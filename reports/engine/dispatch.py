"""Tasks sent by name. The engine (jobs, batches, bulk, notifications) sends its tasks through
here and never imports reports.tasks, which stands above it and imports it. Celery routes a
name as it routes a task object (CELERY_TASK_ROUTES) and takes the same options; what a task
object would add by itself (its own queue or priority) our tasks do not set, and the time limits
set on a task apply in the worker either way. The web process need not import the tasks' modules
to send one."""

from celery import Signature

from project import celery_app

EMAIL_JOB_ENDED = "reports.tasks.email_job_ended"
RUN_BULK_ACTION = "reports.tasks.run_bulk_action"


def send(name: str, args: list, **options):
    """Publish the task `name` with `args` (options as apply_async takes them); raises if the
    broker cannot be reached, as apply_async does."""
    return celery_app.send_task(name, args=args, **options)


def signature(name: str, args: list) -> Signature:
    """An immutable signature of the task `name` (a chord's callback), as `task.si(*args)` makes."""
    return celery_app.signature(name, args=args, immutable=True)
