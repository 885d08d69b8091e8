"""The Operations pages: the overview and its Performance section, the controls (queues, worker
pools, recurring work), search, any job, and bulk actions.

Seeing needs the view_operations permission, acting the operate permission (reports/operations/roles.py);
every action is written to the audit log and answered with the fragment it changed.
"""

from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_POST
from django_celery_beat.models import PeriodicTask

from reports.forms import BulkActionForm
from reports.models import BulkAction, Job
from reports.operations import audit, bulk, controls, overview, performance, recurring, roles
from reports.views import HtmxHttpRequest, artifact_response, render_page, see_other

QUEUE_ACTIONS = {"pause": controls.pause, "resume": controls.resume}
POOL_STEPS = {"grow": 1, "shrink": -1}


@require_GET
@roles.viewers_only
def operations_page(request) -> HttpResponse:
    context = {"failures": overview.latest_failures(), "queues": overview.queue_lengths(),
               "paused": controls.paused_queues(), "can_act": roles.can_act(request.user)}  # fmt: skip
    return render_page(request, "reports/operations.html", context)


@require_GET
@roles.viewers_only
def operations_performance(request: HtmxHttpRequest) -> HttpResponse:
    """The Performance section for ?window=hour|day|week: swapped into the Operations page by
    htmx, or a page of its own (the window links without JavaScript)."""
    name = request.GET.get("window", performance.DEFAULT_WINDOW)
    if name not in performance.WINDOWS:
        *others, last = performance.WINDOWS
        return HttpResponseBadRequest(
            f"Unknown window {name!r}: choose {', '.join(others)} or {last}.", content_type="text/plain"
        )
    context = {"performance": performance.measure(performance.WINDOWS[name]), "windows": performance.WINDOWS.values()}
    if request.htmx:
        return render(request, "reports/operations_performance.html#performance", context)
    return render_page(request, "reports/operations_performance.html", context)


def machinery(request, message: str = "", error: str = "") -> HttpResponse:
    """The machinery fragment; after an action without htmx, the Operations page (what was done
    is in its audit log; an error is not shown there: the page's controls are htmx forms)."""
    if not request.htmx and request.method == "POST":
        return see_other(reverse("operations"))
    context = {
        "workers": overview.workers_online(),
        "queues": overview.queue_lengths(),
        "paused": controls.paused_queues(),
        "pausable": controls.PAUSABLE,
        "can_act": roles.can_act(request.user),
        "message": message,
        "error": error,
        "audit": audit.latest(),
    }
    return render(request, "reports/operations.html#machinery", context)


@require_GET
@roles.viewers_only
def machinery_fragment(request) -> HttpResponse:
    """Loaded after the page (asking the workers takes a second), then refreshed."""
    return machinery(request)


@require_POST
@roles.actors_only
def queue_control(request, queue: str, action: str) -> HttpResponse:
    if action not in QUEUE_ACTIONS:
        return HttpResponseBadRequest("Choose pause or resume.", content_type="text/plain")
    try:
        confirmed = QUEUE_ACTIONS[action](queue)
    except controls.ControlError as error:
        return machinery(request, error=str(error))
    done = "paused" if action == "pause" else "resumed"
    workers = f"{len(confirmed)} worker{'s' if len(confirmed) != 1 else ''} confirmed"
    audit.record(request.user, f"Queue {queue} {done}", workers)
    return machinery(request, message=f"Queue {queue} {done}: {workers}.")


@require_POST
@roles.actors_only
def pool_control(request, worker: str, action: str) -> HttpResponse:
    if action not in POOL_STEPS:
        return HttpResponseBadRequest("Choose grow or shrink.", content_type="text/plain")
    if not controls.resize_pool(worker, POOL_STEPS[action]):
        return machinery(
            request, error=f"{worker} did not confirm: it may have stopped, or run a pool that cannot {action}."
        )
    audit.record(request.user, f"Pool of {worker}: {action} by one process")
    return machinery(request, message=f"{worker} confirmed: one process {'more' if action == 'grow' else 'fewer'}.")


@require_GET
@roles.viewers_only
def recurring_fragment(request) -> HttpResponse:
    context = {"recurring": recurring.overview(), "can_act": roles.can_act(request.user)}
    return render(request, "reports/operations_recurring.html#recurring", context)


@require_POST
@roles.actors_only
def run_now(request, task_id: int) -> HttpResponse:
    task = get_object_or_404(PeriodicTask, pk=task_id)
    sent = recurring.run_now(task)
    audit.record(request.user, f"Ran {task.name} now", f"task {sent}")
    if not request.htmx:
        return see_other(reverse("operations"))
    context = {"recurring": recurring.overview(), "can_act": True, "message": f"{task.name}: sent (task {sent})."}
    return render(request, "reports/operations_recurring.html#recurring", context)


@require_GET
@roles.viewers_only
def job_search(request) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    context = {"query": query, "found": overview.find_jobs(query), "limit": overview.SEARCH_RESULTS}
    if request.htmx:
        return render(request, "reports/operations_job.html#search-results", context)
    return render_page(request, "reports/operations_job.html", context)


def any_job(job_id) -> Job:
    try:
        return Job.objects.select_related("owner", "schedule").get(pk=job_id)
    except Job.DoesNotExist:
        raise Http404("No such job.") from None


@require_GET
@roles.viewers_only
def staff_job(request, job_id) -> HttpResponse:
    """Any user's job, whole: parameters, attempts with their errors, timings, worker, downloads."""
    job = any_job(job_id)
    context = {"job": job, "attempts": overview.attempts(job), "traceback": overview.traceback_of(job),
               "artifacts": job.artifacts.all(), "can_act": roles.can_act(request.user)}  # fmt: skip
    return render_page(request, "reports/operations_job.html", context)


@require_POST
@roles.actors_only
def staff_retry(request, job_id) -> HttpResponse:
    """One failed job back to the queue (what a bulk retry does to each); the job's page shows how it stands."""
    job = any_job(job_id)
    with transaction.atomic():
        if bulk.retry(job):
            audit.record(request.user, f"Retried a job of {job.owner.get_username()}", str(job.pk), jobs=1)
    return see_other(reverse("operations_job", args=[job.pk]))


@require_GET
@roles.viewers_only
def staff_download(request, job_id, name: str) -> HttpResponse:
    """Another user's file: read-only operators may have it too, and every download is audited."""
    job = any_job(job_id)
    response = artifact_response(request, job, name)
    audit.record(request.user, f"Downloaded {name} of {job.owner.get_username()}'s job", str(job.pk), jobs=1)
    return response


BULK_WORDS = {  # action: (verb, the state of the jobs it takes)
    BulkAction.Action.RETRY: ("Retry", "failed"),
    BulkAction.Action.CANCEL: ("Cancel", "queued"),
    BulkAction.Action.DELETE: ("Delete", "finished"),
}


def bulk_step(request, status: int = 200, **context) -> HttpResponse:
    """The bulk action's step (form, confirmation or progress): swapped in by htmx, or the page."""
    if request.htmx:
        return render(request, "reports/operations_bulk.html#bulk-step", context, status=status)
    can_act, shown = roles.can_act(request.user), context.get("bulk_action")
    # The action shown in the step (to those who may act) is not listed again below it.
    recent = [other for other in bulk.recent() if not (can_act and shown and other.pk == shown.pk)]
    context = {"can_act": can_act, "recent": recent, **context}
    return render_page(request, "reports/operations_bulk.html", context, status=status)


@require_GET
@roles.viewers_only
def bulk_page(request) -> HttpResponse:
    """The form, filled from the query string when a link says what to start with (?action=retry)."""
    initial = {name: request.GET[name][:200] for name in BulkActionForm.base_fields if name in request.GET}
    return bulk_step(request, form=BulkActionForm(initial=initial))


@require_POST
@roles.actors_only
def bulk_preview(request) -> HttpResponse:
    """How many jobs the action would take: nothing happens until the operator confirms it."""
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        return bulk_step(request, status=422 if not request.htmx else 200, form=form)
    action, job_filter = form.cleaned_data["action"], form.job_filter()
    count = bulk.matching(action, job_filter).count()
    verb, state = BULK_WORDS[action]
    confirm = {"action": action, "verb": verb, "state": state, "count": count,
               "others": job_filter.jobs().count() - count, "description": job_filter.describe()}  # fmt: skip
    return bulk_step(request, form=form, confirm=confirm)


@require_POST
@roles.actors_only
def bulk_start(request) -> HttpResponse:
    """Confirmed (or sent back to change the filter): the action is recorded, audited and queued."""
    form = BulkActionForm(request.POST)
    if request.POST.get("step") == "edit" or not form.is_valid():
        return bulk_step(request, form=form)
    bulk_action = bulk.confirm(request.user, form.cleaned_data["action"], form.job_filter())
    if not request.htmx:
        return see_other(bulk_action.get_absolute_url())
    return bulk_step(request, bulk_action=bulk_action)


@require_GET
@roles.viewers_only
def bulk_status(request, bulk_id) -> HttpResponse:
    """One bulk action: the fragment it polls while a worker is at it, or its page."""
    bulk_action = get_object_or_404(BulkAction, pk=bulk_id)
    if request.htmx:
        response = render(request, "reports/operations_bulk.html#bulk-progress", {"bulk_action": bulk_action})
        patch_cache_control(response, private=True, no_cache=True)
        return response
    return bulk_step(request, bulk_action=bulk_action)
