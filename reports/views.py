"""Thin views: parse the request, check access, call one function, render a page or fragment."""

from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import push_url, reswap, retarget
from django_htmx.middleware import HtmxDetails

from . import catalog, jobs
from .access import get_job_for, login_required
from .models import ImageItem, Job


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


RECENT_JOBS = 8


@require_GET
@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    recent = Job.objects.for_user(request.user)[:RECENT_JOBS]
    return render(request, "reports/home.html", {"reports": catalog.REPORTS, "recent_jobs": recent})


@require_http_methods(["GET", "POST"])
@login_required
def report_form(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    report = catalog.report_for_slug(slug)
    if request.method == "GET":
        return render(request, "reports/report_form.html", {"report": report, "form": report.form_class()})

    form = report.form_class(request.POST, request.FILES)
    if not form.is_valid():
        context = {"report": report, "form": form}
        if request.htmx:
            # Errors belong in the form, not in the result area the form targets on success.
            response = render(request, "reports/report_form.html#report-form", context)
            return reswap(retarget(response, "#report-form"), "outerHTML")
        return render(request, "reports/report_form.html", context, status=400)

    job = jobs.create_job(request.user, report.kind, **form.job_inputs())
    if request.htmx:
        response = render(request, "reports/job_detail.html#job-status", job_context(job))
        return push_url(response, job.get_absolute_url())
    return see_other(job.get_absolute_url())


def see_other(url: str) -> HttpResponse:
    """303: after a POST the browser GETs the job page, and a reload does not post again."""
    response = HttpResponse(status=303)
    response["Location"] = url
    return response


def job_context(job: Job) -> dict:
    return {"job": job, "report": catalog.BY_KIND[job.kind]}


@require_GET
@login_required
def job_detail(request: HtmxHttpRequest, job_id) -> HttpResponse:
    job = get_job_for(request.user, job_id)
    return render(request, "reports/job_detail.html", job_context(job))


@require_GET
@login_required
def job_status(request: HtmxHttpRequest, job_id) -> HttpResponse:
    """The fragment the job page polls; a plain visit (no htmx) goes to the job page."""
    job = get_job_for(request.user, job_id)
    if not request.htmx:
        return redirect(job)
    return render(request, "reports/job_detail.html#job-status", job_context(job))


@require_GET
@login_required
def artifact_download(request: HtmxHttpRequest, job_id, name: str) -> FileResponse:
    job = get_job_for(request.user, job_id)
    artifact = job.artifacts.filter(name=name).first()
    if artifact is None:
        raise Http404("No such file.")
    response = FileResponse(
        artifact.file.open("rb"), as_attachment=True, filename=artifact.name, content_type=artifact.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@login_required
def image_file(request: HtmxHttpRequest, job_id, position: int, variant: str = "output") -> FileResponse:
    """A processed image: shown in the page (we encoded it, so it is safe inline) or downloaded."""
    job = get_job_for(request.user, job_id)
    item = job.images.filter(position=position, status=ImageItem.Status.DONE).first()
    if item is None:
        raise Http404("No such image.")
    stored = item.preview if variant == "preview" else item.output
    response = FileResponse(
        stored.open("rb"),
        as_attachment="download" in request.GET,
        filename=item.output_name if variant == "output" else None,
        content_type=f"image/{Path(stored.name).suffix.lstrip('.').replace('jpg', 'jpeg')}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response
