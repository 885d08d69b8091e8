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
def on_worker_setup(sender, instance, **kwargs) -> None:
    """A worker that starts while a queue is paused on the Operations page leaves it out."""
    from reports.operations import controls

    controls.leave_out_paused_queues(instance)


def for_web_requests() -> None:
    """In a web process, give up on a hung Redis within OFFLOAD_WEB_BROKER_SOCKET_TIMEOUT (workers
    and beat keep the longer timeout of the transport options). Call before the first publish."""
    from django.conf import settings

    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "socket_timeout": settings.OFFLOAD_WEB_BROKER_SOCKET_TIMEOUT,
    }
