from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out
        from django.core import checks
        from django.db.models.signals import post_delete, post_migrate

        from reports import forms, kinds
        from reports.engine import events
        from reports.engine.files import check_bucket
        from reports.models import Job
        from reports.operations import roles

        # Every process (web, worker, beat, manage.py) stops at once with the reason, rather
        # than failing each upload later. It runs before any request, so it cannot slow one.
        check_bucket()
        # Every installed app's job kinds (reports/job_kinds/ and any team's), declared once.
        kinds.discover()
        checks.register(kinds.check_queues)
        checks.register(forms.check_schedule_fields)

        # Open streams hear of these at once instead of at their next heartbeat.
        user_logged_out.connect(events.on_sign_out, dispatch_uid="offload-streams-sign-out")
        post_delete.connect(events.on_job_deleted, sender=Job, dispatch_uid="offload-streams-job-deleted")
        # The Operations groups, once this app's permissions exist.
        post_migrate.connect(roles.ensure_groups, sender=self, dispatch_uid="offload-operations-groups")
