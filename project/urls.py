"""Top-level URLs: sign-in, the admin, and the reports app."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("reports.urls")),
]
