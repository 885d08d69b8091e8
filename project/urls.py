"""Top-level URLs: sign-in, the admin, metrics for Prometheus, and the reports app."""

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path

from reports.operations import metrics
from reports.signin import SignInView, address_limited

# The admin signs people in too: the same per-address limit as Offload's own page.
admin.site.login = address_limited(admin.site.login)

urlpatterns = [
    # Sign-in and sign-out only: no password reset by email (an operator sets passwords in the
    # admin), and so no unthrottled form that mails anyone a link.
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("metrics", metrics.metrics, name="metrics"),
    path("", include("reports.urls")),
]
