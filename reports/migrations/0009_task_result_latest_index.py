"""An index on django-celery-results' table for the question the Operations page asks of it:
the latest result of each housekeeping task (reports/recurring.py). Beat's rescue check alone
stores a result every 10 seconds, so without it each look sorts weeks of rows."""

from django.db import migrations

INDEX = "offload_taskresult_latest"


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0008_performance_indexes"),
        ("django_celery_results", "0014_alter_taskresult_status"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON django_celery_results_taskresult (task_name, date_done)",
            f"DROP INDEX IF EXISTS {INDEX}",
        ),
    ]
