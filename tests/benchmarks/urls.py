"""The project's URLs plus a bare view: the status fragment's baseline, behind the same
middleware and the same sign-in check, returning a constant fragment of similar size."""

from django.http import HttpResponse
from django.urls import include, path

from reports.access import login_required

CONSTANT_FRAGMENT = "<article class='card job'>" + "<p>Running: 40%</p>" * 100 + "</article>"


@login_required
def bare(request):
    return HttpResponse(CONSTANT_FRAGMENT)


urlpatterns = [path("bench/bare/", bare), path("", include("project.urls"))]
