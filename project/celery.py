"""The Celery app, configured from Django settings under the CELERY_ namespace."""

import os

from celery import Celery
from celery.signals import celeryd_after_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Imported for its signal handler: a second beat refuses to start.
from . import beat_lock  # noqa: E402, F401


@celeryd_after_setup.connect
def leave_out_paused_queues(sender, instance, **kwargs) -> None:
    """A worker that starts while a queue is paused on the Operations page leaves it out."""
    from reports.controls import leave_out_paused_queues

    leave_out_paused_queues(instance)
