"""Who may see what: sign-in that suits htmx requests, and the one owner-aware job getter."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django_htmx.http import HttpResponseClientRedirect

from reports.models import Job


def login_required(view):
    """Like Django's, but an htmx request (a polled fragment) redirects the whole page.

    A plain 302 would be followed by htmx and the login form swapped into the progress bar.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        return sign_in_first(request)

    return wrapper


def sign_in_first(request):
    """The way to the sign-in page, and back to this page after it."""
    if getattr(request, "htmx", None):
        # Come back to the page the person was looking at, not the fragment URL.
        page = request.htmx.current_url_abs_path or request.get_full_path()
        return HttpResponseClientRedirect(redirect_to_login(page).url)
    return redirect_to_login(request.get_full_path())


def get_job_for(user, job_id) -> Job:
    """The user's job, or 404: another user's id looks exactly like one that does not exist."""
    try:
        return Job.objects.for_user(user).get(pk=job_id)
    except Job.DoesNotExist:
        raise Http404("No such job.") from None
