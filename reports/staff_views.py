"""The staff-only Operations page."""

from functools import wraps

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import operations
from .access import login_required


def staff_only(view):
    """Signed in and staff; anyone else gets the same 404 as a page that does not exist."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@staff_only
def operations_page(request) -> HttpResponse:
    context = {"failures": operations.latest_failures(), "queues": operations.queue_lengths()}
    return render(request, "reports/operations.html", context)


@require_GET
@staff_only
def workers(request) -> HttpResponse:
    """Loaded after the page (asking the workers takes a second), then refreshed."""
    context = {"workers": operations.workers_online(), "queues": operations.queue_lengths()}
    return render(request, "reports/operations.html#machinery", context)
