"""Thin views: parse the request, check access, call one function, render a page or fragment."""

from pathlib import Path

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url, reswap, retarget
from django_htmx.middleware import HtmxDetails

from reports import htmx, kinds
from reports.engine import jobs, notifications
from reports.engine.access import get_job_for, login_required
from reports.engine.downloads import stored_file_response
from reports.forms import JobFilterForm, focus_first_error
from reports.live import polling
from reports.live.fragments import (
    JOBS_PER_PAGE,
    job_context,
    rows_context,
    streams_available,
    watched_ids,
    with_notices,
)
from reports.models import ImageItem, Job


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def render_page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    """A whole page. Its notices area (base.html) shows the user's jobs that ended elsewhere,
    found and marked announced here, by the view, before anything renders."""
    return render(request, template, with_notices(request.user, context), status=status)


RECENT_JOBS = 8


@require_GET
@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    recent = list(Job.objects.for_user(request.user)[:RECENT_JOBS])
    context = {
        "reports": [kind for kind in kinds.all_kinds() if kinds.allowed(kind, request.user)],
        "recent_jobs": recent,
        "streams": streams_available(request),
    }
    context["page_polls"] = any(job.is_active for job in recent)  # its rows' poll carries the notices
    return render_page(request, "reports/home.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def report_form(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    report = kind_for_slug(slug)
    if not kinds.allowed(report, request.user):
        raise Http404("No such report.")  # as for one that does not exist
    if request.method == "GET":
        return render_page(
            request, "reports/report_form.html", {"report": report, "form": report.form(user=request.user)}
        )

    form = report.form(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        context = {"report": report, "form": focus_first_error(form)}
        if request.htmx:
            # Errors belong in the form, not in the result area the form targets on success.
            response = render(request, "reports/report_form.html#report-form", context)
            return reswap(retarget(response, "#report-form"), "outerHTML")
        return render_page(request, "reports/report_form.html", context, status=400)

    if request.POST.get("preview") and hasattr(form, "preview"):
        # Nothing is made: what the job would do, where its result would appear.
        context = {"report": report, "form": form, "preview": form.preview()}
        if request.htmx:
            return render(request, form.preview_template, context)
        return render_page(request, "reports/report_form.html", context)

    try:
        job = jobs.create_job(request.user, report.name, **form.job_fields())
    except jobs.TooManyActiveJobs as refusal:
        return refused(request, report, form, str(refusal))
    if request.htmx:
        # Neither the notices of other jobs nor the count of jobs ahead are looked for here: the
        # new job's first poll, a second later, or its stream at once, carries both. It keeps two
        # queries off every click, which the busiest moments have most of.
        context = {**job_context(job, jobs_ahead=0, streams=streams_available(request)), "waiting_notices": []}
        # The button just pressed is disabled for the request (and so loses the keyboard's focus):
        # the new job's heading takes it.
        context["started_here"] = True
        response = render(request, "reports/job_detail.html#job-live", with_notices(request.user, context))
        return push_url(response, job.get_absolute_url())
    return see_other(job.get_absolute_url())


def kind_for_slug(slug: str) -> kinds.JobKind:
    try:
        return kinds.by_slug(slug)
    except kinds.UnknownKind:
        raise Http404("No such report.") from None


def refused(request: HtmxHttpRequest, report, form, message: str) -> HttpResponse:
    """429: the person has too many jobs running; say so where the result would have appeared."""
    if request.htmx:
        return render(request, "reports/report_form.html#refusal", {"message": message}, status=429)
    context = {"report": report, "form": form, "refusal": message}
    return render_page(request, "reports/report_form.html", context, status=429)


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def see_other(url: str) -> HttpResponse:
    """303: after a POST the browser GETs the job page, and a reload does not post again."""
    return HttpResponseSeeOther(url)


@require_GET
@login_required
def job_detail(request: HtmxHttpRequest, job_id) -> HttpResponse:
    job = get_job_for(request.user, job_id)
    notifications.seen(job)  # its owner is looking at how it ended: no notice for it elsewhere
    return render_page(request, "reports/job_detail.html", job_context(job, streams=streams_available(request)))


@require_GET
@login_required
def job_status(request: HtmxHttpRequest, job_id) -> HttpResponse:
    """The fragment the job page polls; a plain visit (no htmx) goes to the job page.

    A poll of an active job that would get the same fragment as last time gets 304 Not
    Modified instead, before anything is rendered: the browser's cache revalidates with
    If-None-Match. An ended job's fragment stops the polling, so it is never asked for again.
    """
    job = get_job_for(request.user, job_id)
    if not request.htmx:
        return redirect(job)
    jobs_ahead = jobs.jobs_ahead(job)
    if not job.is_active:
        notifications.seen(job)  # this poll shows its end where its owner is looking
        context = job_context(job, jobs_ahead, ended_here=True)
        return render(request, "reports/job_detail.html#job-status", with_notices(request.user, context))
    waiting = notifications.pending(request.user, exclude=job.pk)
    etag = polling.fragment_etag(job, jobs_ahead, waiting)
    response = get_conditional_response(request, etag=etag)
    if response is None:
        # The notices just asked about (`waiting`) are not asked about again when none waits.
        context = {**job_context(job, jobs_ahead), "waiting_notices": waiting}
        response = render(request, "reports/job_detail.html#job-status", with_notices(request.user, context))
    response["ETag"] = etag
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ["HX-Request"])  # the same URL redirects a plain visit
    return response


@require_GET
@login_required
def artifact_download(request: HtmxHttpRequest, job_id, name: str) -> StreamingHttpResponse:
    return artifact_response(request, get_job_for(request.user, job_id), name)


def artifact_response(request, job: Job, name: str) -> StreamingHttpResponse:
    """One of the job's downloads, streamed (the caller has checked who may have it)."""
    artifact = job.artifacts.filter(name=name).first()
    if artifact is None:
        raise Http404("No such file.")
    response = stored_file_response(
        request, artifact.file, artifact.content_type, artifact.size, filename=artifact.name, as_attachment=True
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@login_required
def image_file(request: HtmxHttpRequest, job_id, position: int, variant: str = "output") -> StreamingHttpResponse:
    """A processed image: shown in the page (we encoded it, so it is safe inline) or downloaded."""
    job = get_job_for(request.user, job_id)
    item = job.images.filter(position=position, status=ImageItem.Status.DONE).first()
    if item is None:
        raise Http404("No such image.")
    stored = item.preview if variant == "preview" else item.output
    response = stored_file_response(
        request,
        stored,
        f"image/{Path(stored.name).suffix.lstrip('.').replace('jpg', 'jpeg')}",
        size=item.output_bytes if variant == "output" else None,
        filename=item.output_name if variant == "output" else None,
        as_attachment="download" in request.GET,
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- My jobs and what can be done to a job -------------------------------------------------


@require_GET
@login_required
def job_list(request: HtmxHttpRequest) -> HttpResponse:
    form = JobFilterForm(request.GET)
    queryset = form.filter(Job.objects.for_user(request.user))
    page = Paginator(queryset, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "query": form.query_string(), "streams": streams_available(request)}
    context["page_polls"] = any(job.is_active for job in page.object_list)
    # The filter's htmx request gets the table; the back button's (a filter it pushed) the page.
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "reports/job_list.html#job-table", context)
    return render_page(request, "reports/job_list.html", context)


@require_GET
@login_required
def active_job_rows(request: HtmxHttpRequest) -> HttpResponse:
    """One poll for every running row on the My jobs page: each row comes back as an
    out-of-band swap, and the poller itself comes back without its trigger once none is active."""
    context = rows_context(request.user, watched_ids(request))
    return render(request, "reports/job_list.html#active-rows", with_notices(request.user, context))


@require_GET
@login_required
def notices(request: HtmxHttpRequest) -> HttpResponse:
    """The poll of pages that do not poll for anything else: notices of jobs that have ended."""
    context = {**notifications.updates(request.user, page_polls=False), "oob": True, "shown": True}
    return render(request, "reports/notices.html", context)


@require_POST
@login_required
def notice_dismiss(request: HtmxHttpRequest) -> HttpResponse:
    """Takes a notice off the page: it was marked as shown when it was first shown, so there is
    nothing to record. htmx swaps the notice for this empty answer; without JavaScript the page
    the person was on comes back, without it."""
    if request.htmx:
        return HttpResponse("")
    back = request.headers.get("Referer", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return see_other(back if back and safe else reverse("home"))


@require_POST
@login_required
def job_cancel(request: HtmxHttpRequest, job_id) -> HttpResponse:
    job = get_job_for(request.user, job_id)
    jobs.cancel(job)
    notifications.seen(job)  # they cancelled it themselves
    return after_action(request, job)


@require_POST
@login_required
def job_run_again(request: HtmxHttpRequest, job_id) -> HttpResponse:
    job = get_job_for(request.user, job_id)
    if not kinds.allowed(kinds.shown(job.kind), request.user):
        raise PermissionDenied("Your account may no longer run this kind of job.")
    try:
        new_job = jobs.run_again(job)
    except jobs.JobGone as gone:
        raise Http404(str(gone)) from None
    except jobs.TooManyActiveJobs as refusal:
        messages.error(request, str(refusal))
        return HttpResponseClientRedirect(job.get_absolute_url()) if request.htmx else see_other(job.get_absolute_url())
    if request.htmx:
        return HttpResponseClientRedirect(new_job.get_absolute_url())
    return see_other(new_job.get_absolute_url())


@require_POST
@login_required
def job_delete(request: HtmxHttpRequest, job_id) -> HttpResponse:
    job = get_job_for(request.user, job_id)
    if not jobs.delete_job(job):
        messages.error(request, "A job that is still queued or running cannot be deleted; cancel it first.")
        return after_action(request, job)
    if htmx.target_id(request).startswith("job-row-"):
        return HttpResponse("")  # the row swaps itself out
    messages.success(request, "The job and its files were deleted.")
    return HttpResponseClientRedirect(reverse("job_list")) if request.htmx else see_other(reverse("job_list"))


def after_action(request: HtmxHttpRequest, job: Job) -> HttpResponse:
    """Re-render what the action came from: a row of My jobs or the job's status fragment."""
    if not request.htmx:
        return see_other(job.get_absolute_url())
    if htmx.target_id(request).startswith("job-row-"):
        return render(request, "reports/job_list.html#job-row", {"job": job})
    notifications.seen(job)  # they acted on it themselves
    # No notices in this answer: the page's own poll or stream brings them, and a push may have
    # replaced the card (and the form that asked) before this answer arrives.
    return render(request, "reports/job_detail.html#job-status", job_context(job, ended_here=True))
