from django.contrib import admin

from .models import Job, JobArtifact


class JobArtifactInline(admin.TabularInline):
    model = JobArtifact
    extra = 0
    readonly_fields = ("name", "label", "file", "content_type", "size", "created_at")
    can_delete = False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "owner", "status", "progress", "created_at", "finished_at")
    list_filter = ("status", "kind")
    search_fields = ("id", "task_id", "owner__username", "error_reference")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Job._meta.fields]
    inlines = [JobArtifactInline]
    list_select_related = ("owner",)
