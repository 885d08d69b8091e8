"""Pages for report schedules: list, create, edit, pause/resume, delete. Owners only."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from reports import htmx, kinds
from reports.engine import schedules
from reports.engine.access import login_required
from reports.forms import focus_first_error, schedulable_kinds, schedule_form_for
from reports.models import ReportSchedule
from reports.views import HtmxHttpRequest, render_page, see_other


def get_schedule_for(user, schedule_id) -> ReportSchedule:
    """The user's schedule, or 404: another user's id looks exactly like a missing one."""
    try:
        return ReportSchedule.objects.select_related("periodic_task__crontab", "last_job").get(
            pk=schedule_id, owner=user
        )
    except ReportSchedule.DoesNotExist:
        raise Http404("No such schedule.") from None


def row_context(schedule: ReportSchedule) -> dict:
    return {"schedule": schedule, "next_run": schedules.next_run(schedule), "timing": schedules.describe(schedule)}


@require_GET
@login_required
def schedule_list(request: HtmxHttpRequest) -> HttpResponse:
    owned = ReportSchedule.objects.filter(owner=request.user).select_related("periodic_task__crontab", "last_job")
    rows = [row_context(schedule) for schedule in owned]
    return render_page(request, "reports/schedule_list.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
@login_required
def schedule_form(request: HtmxHttpRequest, schedule_id=None) -> HttpResponse:
    schedule = get_schedule_for(request.user, schedule_id) if schedule_id else None
    kind = schedule_kind(schedule, request.POST.get("kind") or request.GET.get("kind"))
    form_class = schedule_form_for(kind)
    context = {
        "schedule": schedule, "kind": kind, "kinds": schedulable_kinds(),
        "limit": schedule_limit(request.user), "max_schedules": settings.OFFLOAD_MAX_SCHEDULES,
    }  # fmt: skip
    if request.method == "GET":
        initial = form_class.initial_for(schedule) if schedule else {"time_zone": usual_time_zone(request.user)}
        form = form_class(initial=initial, user=request.user)
        return render_page(request, "reports/schedule_form.html", {**context, "form": form})

    form = form_class(request.POST, user=request.user)
    if form.is_valid() and schedule is None and context["limit"]:
        form.add_error(None, context["limit"])
    if not form.is_valid():
        return render_page(
            request, "reports/schedule_form.html", {**context, "form": focus_first_error(form)}, status=400
        )
    saved = schedules.save_schedule(
        request.user, form.cleaned_data["name"], kind.name, form.job_inputs()["params"],
        form.timing(), form.cleaned_data["notify_by_email"], schedule=schedule,
    )  # fmt: skip
    when = schedules.next_run(saved)
    messages.success(request, f"“{saved.name}” is saved. Next run: {when:%a %-d %b %Y, %H:%M} ({saved.time_zone}).")
    return see_other(reverse("schedule_list"))


def schedule_limit(user) -> str:
    """Why this person may make no more schedules, or "" while they may."""
    count, most = ReportSchedule.objects.filter(owner=user).count(), settings.OFFLOAD_MAX_SCHEDULES
    if count < most:
        return ""
    return f"You have {count} schedules, the most one person may have. Delete one to make another."


def schedule_kind(schedule: ReportSchedule | None, slug: str | None) -> kinds.JobKind:
    """A saved schedule's kind, or the one a new schedule is for (?kind=<slug>; the first by default)."""
    if schedule is not None:
        try:
            return kinds.get(schedule.kind)
        except kinds.UnknownKind:
            raise Http404("This schedule's kind of job is no longer offered.") from None
    offered = schedulable_kinds()
    chosen = next((kind for kind in offered if kind.slug == slug), None) if slug else offered[0]
    if chosen is None:
        raise Http404("No such kind of job can be scheduled.")
    return chosen


def usual_time_zone(user) -> str:
    """The zone of the person's latest schedule: most people schedule in one zone."""
    latest = ReportSchedule.objects.filter(owner=user).order_by("-created_at").first()
    return latest.time_zone if latest else settings.TIME_ZONE


@require_POST
@login_required
def schedule_pause(request: HtmxHttpRequest, schedule_id, paused: bool) -> HttpResponse:
    schedule = get_schedule_for(request.user, schedule_id)
    schedules.set_paused(schedule, paused)
    if request.htmx:
        return render(request, "reports/schedule_list.html#schedule-row", row_context(schedule))
    messages.success(request, f"“{schedule.name}” is {'paused' if paused else 'running again'}.")
    return see_other(reverse("schedule_list"))


@require_POST
@login_required
def schedule_delete(request: HtmxHttpRequest, schedule_id) -> HttpResponse:
    schedule = get_schedule_for(request.user, schedule_id)
    schedules.delete_schedule(schedule)
    if htmx.target_id(request) == f"schedule-{schedule.pk}":
        return HttpResponse("")  # the row swaps itself out
    messages.success(request, f"“{schedule.name}” was deleted. The reports it already made are still in My jobs.")
    return HttpResponseClientRedirect(reverse("schedule_list")) if request.htmx else see_other(reverse("schedule_list"))
