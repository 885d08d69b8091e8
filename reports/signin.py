"""Sign-in: django-axes locks a username after repeated failures from one address; this adds the
other half, a limit per address however many usernames it tries (password spraying)."""

from functools import wraps

from axes.helpers import get_client_ip_address
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.views import LoginView
from django.db.models import Sum
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from reports.forms import SignInForm


def failures_from(address: str | None) -> int:
    """Wrong passwords from this address within the cool-off, over every username (axes' rows)."""
    if not address:
        return 0
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    recent = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=since)
    return recent.aggregate(total=Sum("failures_since_start"))["total"] or 0


def address_paused(request) -> HttpResponse | None:
    """The page that says signing in from here is paused, or None while it is not."""
    if request.method != "POST":
        return None
    if failures_from(get_client_ip_address(request)) < settings.OFFLOAD_SIGNIN_FAILURES_PER_ADDRESS:
        return None
    context = {"cooloff_time": settings.AXES_COOLOFF_TIME, "by_address": True}
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, context, status=429)


def address_limited(view):
    """A sign-in view (the admin's) under the same per-address limit as ours."""

    @wraps(view)
    def limited(request, *args, **kwargs):
        return address_paused(request) or view(request, *args, **kwargs)

    return limited


class SignInView(LoginView):
    authentication_form = SignInForm

    def post(self, request, *args, **kwargs):
        return address_paused(request) or super().post(request, *args, **kwargs)
