from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from . import events

        user_logged_out.connect(events.on_sign_out, dispatch_uid="offload-streams-sign-out")
