"""Top-level URLs: sign-in, the admin, metrics for Prometheus, and the reports app."""

from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path

from reports.forms import SignInForm
from reports.operations import metrics

urlpatterns = [
    path("accounts/login/", LoginView.as_view(authentication_form=SignInForm), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("metrics", metrics.metrics, name="metrics"),
    path("", include("reports.urls")),
]
