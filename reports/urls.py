from django.urls import path

from reports import schedule_views, stream_views, views
from reports.operations import views as operations_views

urlpatterns = [
    path("", views.home, name="home"),
    path("reports/<slug:slug>/", views.report_form, name="report_form"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/active-rows/", views.active_job_rows, name="active_job_rows"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<uuid:job_id>/run-again/", views.job_run_again, name="job_run_again"),
    path("jobs/<uuid:job_id>/delete/", views.job_delete, name="job_delete"),
    path("schedules/", schedule_views.schedule_list, name="schedule_list"),
    path("schedules/new/", schedule_views.schedule_form, name="schedule_new"),
    path("schedules/<uuid:schedule_id>/", schedule_views.schedule_form, name="schedule_edit"),
    path("schedules/<uuid:schedule_id>/pause/", schedule_views.schedule_pause, {"paused": True}, name="schedule_pause"),
    path(
        "schedules/<uuid:schedule_id>/resume/", schedule_views.schedule_pause, {"paused": False}, name="schedule_resume"
    ),
    path("schedules/<uuid:schedule_id>/delete/", schedule_views.schedule_delete, name="schedule_delete"),
    path("notices/", views.notices, name="notices"),
    path("notices/dismiss/", views.notice_dismiss, name="notice_dismiss"),
    path("events/", stream_views.user_events, name="user_events"),
    path("operations/", operations_views.operations_page, name="operations"),
    path("operations/machinery/", operations_views.machinery_fragment, name="operations_machinery"),
    path("operations/queues/<str:queue>/<str:action>/", operations_views.queue_control, name="operations_queue"),
    path("operations/workers/<str:worker>/<str:action>/", operations_views.pool_control, name="operations_pool"),
    path("operations/recurring/", operations_views.recurring_fragment, name="operations_recurring"),
    path("operations/recurring/<int:task_id>/run/", operations_views.run_now, name="operations_run_now"),
    path("operations/search/", operations_views.job_search, name="operations_search"),
    path("operations/jobs/<uuid:job_id>/", operations_views.staff_job, name="operations_job"),
    path("operations/jobs/<uuid:job_id>/retry/", operations_views.staff_retry, name="operations_job_retry"),
    path("operations/jobs/<uuid:job_id>/files/<str:name>", operations_views.staff_download, name="operations_download"),
    path("operations/bulk/", operations_views.bulk_page, name="operations_bulk"),
    path("operations/bulk/count/", operations_views.bulk_preview, name="operations_bulk_preview"),
    path("operations/bulk/start/", operations_views.bulk_start, name="operations_bulk_start"),
    path("operations/bulk/<uuid:bulk_id>/", operations_views.bulk_status, name="operations_bulk_action"),
    path("operations/performance/", operations_views.operations_performance, name="operations_performance"),
    path("jobs/<uuid:job_id>/status/", views.job_status, name="job_status"),
    path("jobs/<uuid:job_id>/events/", stream_views.job_events, name="job_events"),
    path("jobs/<uuid:job_id>/files/<str:name>", views.artifact_download, name="artifact_download"),
    path("jobs/<uuid:job_id>/images/<int:position>/", views.image_file, name="image_file"),
    path(
        "jobs/<uuid:job_id>/images/<int:position>/preview/",
        views.image_file,
        {"variant": "preview"},
        name="image_preview",
    ),
]
