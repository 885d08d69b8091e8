"""Offload's Django project: settings, URLs, the Celery app and the server entry points."""

# Load the Celery app whenever Django starts, so @shared_task binds to it (Celery's Django guide).
from .celery import app as celery_app

__all__ = ("celery_app",)
