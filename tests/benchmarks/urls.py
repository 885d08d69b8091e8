"""The project's URLs plus the baselines that need the web server: a bare view for the status
fragment (behind the same middleware and the same sign-in check, returning a constant fragment
of similar size), and the start of a job as a person would write it by hand with Django and
Celery (a row, the task published once the row is committed, a small fragment back)."""

from django.db import transaction
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_POST

from reports.engine.access import login_required
from reports.models import Job

from .worker_app import hand_written

CONSTANT_FRAGMENT = "<article class='card job'>" + "<p>Running: 40%</p>" * 100 + "</article>"


@login_required
def bare(request):
    return HttpResponse(CONSTANT_FRAGMENT)


@require_POST
@login_required
def hand_written_start(request):
    job = Job.objects.create(owner=request.user, kind="sales_summary", params=request.POST.dict())
    transaction.on_commit(lambda: hand_written.delay(str(job.pk)))
    return HttpResponse(f"<p id='job-{job.pk}'>Queued</p>", headers={"HX-Push-Url": job.get_absolute_url()})


urlpatterns = [path("bench/bare/", bare), path("bench/start/", hand_written_start), path("", include("project.urls"))]
