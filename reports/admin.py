from django.contrib import admin, messages

from reports.engine import jobs, schedules
from reports.models import Job, JobArtifact, ReportSchedule


class JobArtifactInline(admin.TabularInline):
    model = JobArtifact
    extra = 0
    readonly_fields = ("name", "label", "file", "content_type", "size", "created_at")
    can_delete = False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "owner",
        "status",
        "progress",
        "attempt",
        "created_at",
        "finished_at",
        "error_reference",
    )
    list_filter = ("status", "kind", "created_at", ("schedule", admin.EmptyFieldListFilter))
    search_fields = ("id", "task_id", "owner__username", "error_reference")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Job._meta.fields]
    inlines = [JobArtifactInline]
    list_select_related = ("owner",)
    actions = ["cancel_jobs", "run_jobs_again"]

    @admin.action(description="Cancel the selected jobs (queued or running)")
    def cancel_jobs(self, request, queryset):
        cancelled = sum(jobs.cancel(job) for job in queryset.filter(status__in=Job.ACTIVE_STATUSES))
        self.message_user(request, f"Cancelled {cancelled} job(s); the others had already ended.")

    @admin.action(description="Run the selected jobs again (as their owners)")
    def run_jobs_again(self, request, queryset):
        started, refused = 0, 0
        for job in queryset:
            try:
                jobs.run_again(job)
                started += 1
            except jobs.TooManyActiveJobs:
                refused += 1
        self.message_user(request, f"Started {started} new job(s).")
        if refused:
            self.message_user(
                request, f"{refused} not started: their owners already have the most active jobs.", messages.WARNING
            )


@admin.register(ReportSchedule)
class ReportScheduleAdmin(admin.ModelAdmin):
    """Timing is edited on the PeriodicTask (django-celery-beat's admin) or by the owner's own page."""

    list_display = ("name", "owner", "frequency", "timing", "enabled", "last_run_at", "last_job")
    list_filter = ("frequency", "periodic_task__enabled")
    search_fields = ("name", "owner__username")
    list_select_related = ("owner", "periodic_task", "last_job")
    # Its timing must change together with its crontab row, so only the owner's form changes it.
    readonly_fields = [field.name for field in ReportSchedule._meta.fields]

    @admin.display(description="When")
    def timing(self, schedule):
        return schedules.describe(schedule)

    @admin.display(boolean=True, description="Enabled")
    def enabled(self, schedule):
        return schedule.periodic_task.enabled

    def delete_model(self, request, schedule):
        schedules.delete_schedule(schedule)

    def delete_queryset(self, request, queryset):
        for schedule in queryset.select_related("periodic_task"):
            schedules.delete_schedule(schedule)
