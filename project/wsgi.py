"""WSGI entry point (gunicorn project.wsgi in production)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_wsgi_application()

from project.celery import for_web_requests  # noqa: E402

for_web_requests()
