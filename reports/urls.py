from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("reports/<slug:slug>/", views.report_form, name="report_form"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/active-rows/", views.active_job_rows, name="active_job_rows"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<uuid:job_id>/run-again/", views.job_run_again, name="job_run_again"),
    path("jobs/<uuid:job_id>/delete/", views.job_delete, name="job_delete"),
    path("jobs/<uuid:job_id>/status/", views.job_status, name="job_status"),
    path("jobs/<uuid:job_id>/files/<str:name>", views.artifact_download, name="artifact_download"),
    path("jobs/<uuid:job_id>/images/<int:position>/", views.image_file, name="image_file"),
    path(
        "jobs/<uuid:job_id>/images/<int:position>/preview/",
        views.image_file,
        {"variant": "preview"},
        name="image_preview",
    ),
]
