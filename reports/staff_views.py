"""The Operations page, and its Performance section (the controls are in operations_views.py)."""

from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import controls, operations, performance, roles
from .views import HtmxHttpRequest


@require_GET
@roles.viewers_only
def operations_page(request) -> HttpResponse:
    context = {"failures": operations.latest_failures(), "queues": operations.queue_lengths(),
               "paused": controls.paused_queues(), "can_act": roles.can_act(request.user)}  # fmt: skip
    return render(request, "reports/operations.html", context)


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
    template = "reports/operations_performance.html" + ("#performance" if request.htmx else "")
    return render(request, template, context)
