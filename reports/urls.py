from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("reports/<slug:slug>/", views.report_form, name="report_form"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job_detail"),
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
