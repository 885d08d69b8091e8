"""ASGI entry point: what uvicorn serves (`make run` and production), so job pages can be pushed
their progress over server-sent events. `runserver` and gunicorn serve project/wsgi.py and poll."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Django's docs: no persistent connections under ASGI, a pool instead (PostgreSQL; settings.py).
os.environ.setdefault("DATABASE_POOL", "true")

application = get_asgi_application()

from project.celery import for_web_requests  # noqa: E402

for_web_requests()

from django.conf import settings  # noqa: E402  (after the app: settings are configured by then)

from reports.body_limit import limit_signed_out_bodies  # noqa: E402

if settings.DEBUG:
    # In development static files come from the apps' folders, as runserver serves them; in
    # production WhiteNoise serves the collected ones.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)

# Outermost: judged before Django reads a byte of the body.
application = limit_signed_out_bodies(application)
