"""The Performance section of the Operations page on a big Job table (12): 1,000,000 finished
jobs over the last two weeks (10,000 in --smoke), written by one INSERT … SELECT and rolled up by
the hour as beat would have, then each window (hour, day, week) rendered in this process with
Django's test client as a superuser, as htmx asks for it. The goal is PostgreSQL's
(`--postgres`); on SQLite (100,000 jobs) the figures are reported.
"""

import statistics
import time

from .figures import Figure
from .stack import Stack

ROUNDS = 7
GOAL_MS = 200

# A job per row: a kind, an outcome (90 % succeeded, 7 % failed, 3 % cancelled), a finish at a
# random moment of the last 14 days, a run time and a wait mostly short with a long tail (up to
# 10 and 5 minutes). Written in order of finishing, as a real table's rows are (a job's row is
# rewritten when it ends), so the finish times and the table's physical order go together.
POSTGRESQL = """
INSERT INTO {table} ({columns})
SELECT {values} FROM (
    SELECT (ARRAY['sales_summary', 'csv_profile', 'image_batch'])[1 + floor(random() * 3)::int] AS kind,
           random() AS chance,
           finished,
           finished - power(random(), 3) * 600 * interval '1 second' AS started,
           power(random(), 4) * 300 * interval '1 second' AS waited
    FROM (SELECT %s::timestamptz - random() * interval '14 days' AS finished FROM generate_series(1, %s)) AS moments
    ORDER BY finished
) AS generated
"""
POSTGRESQL_VALUES = {
    "id": "gen_random_uuid()",
    "task_id": "gen_random_uuid()::text",
    "kind": "kind",
    "status": "CASE WHEN chance < 0.90 THEN 'succeeded' WHEN chance < 0.97 THEN 'failed' ELSE 'cancelled' END",
    "created_at": "started - waited",
    "started_at": "started",
    "finished_at": "finished",
    "heartbeat_at": "finished",
}
# The same on SQLite, which has no generate_series (a recursive CTE counts instead) and keeps
# times as text; random() there is a 64-bit integer. MATERIALIZED, or SQLite would evaluate a
# random() once per use of its column, and a job's start would not go with its finish.
SQLITE = """
INSERT INTO {table} ({columns})
WITH RECURSIVE counter(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM counter WHERE n < %s),
moments AS MATERIALIZED (SELECT julianday(%s) - (abs(random()) / 9223372036854775807.0) * 14 AS finished
                         FROM counter),
generated AS MATERIALIZED (
    SELECT CASE abs(random()) / 3074457345618258603 WHEN 0 THEN 'sales_summary' WHEN 1 THEN 'csv_profile'
                ELSE 'image_batch' END AS kind,
           abs(random()) / 9223372036854775807.0 AS chance,
           finished,
           finished - power(abs(random()) / 9223372036854775807.0, 3) * 600 / 86400.0 AS started,
           power(abs(random()) / 9223372036854775807.0, 4) * 300 / 86400.0 AS waited
    FROM moments ORDER BY finished
)
SELECT {values} FROM generated
"""
SQLITE_TIME = "strftime('%%Y-%%m-%%d %%H:%%M:%%f', {})"
SQLITE_VALUES = {
    "id": "lower(hex(randomblob(16)))",
    "task_id": "lower(hex(randomblob(16)))",
    "kind": "kind",
    "status": POSTGRESQL_VALUES["status"],
    "created_at": SQLITE_TIME.format("started - waited"),
    "started_at": SQLITE_TIME.format("started"),
    "finished_at": SQLITE_TIME.format("finished"),
    "heartbeat_at": SQLITE_TIME.format("finished"),
}


def insert_jobs(owner, count: int) -> float:
    """`count` finished jobs of `owner` in one statement; the seconds it took. Every other column
    gets its field's default, so a field added to Job later needs nothing here."""
    from django.db import connection
    from django.utils import timezone

    from reports.models import Job

    postgresql = connection.vendor == "postgresql"
    generated = POSTGRESQL_VALUES if postgresql else SQLITE_VALUES
    columns, values, defaults = [], [], []
    for field in Job._meta.concrete_fields:
        columns.append(connection.ops.quote_name(field.column))
        if field.name in generated:
            values.append(generated[field.name])
        elif field.name == "owner":
            values.append(str(int(owner.pk)))
        else:
            values.append("%s")
            defaults.append(field.get_db_prep_save(field.get_default(), connection))
    sql = (POSTGRESQL if postgresql else SQLITE).format(
        table=connection.ops.quote_name(Job._meta.db_table), columns=", ".join(columns), values=", ".join(values)
    )
    now = timezone.now()
    moment = now if postgresql else now.replace(tzinfo=None).isoformat(" ")
    # The defaults' placeholders come before the generator's in the statement.
    params = [*defaults, moment, count] if postgresql else [count, moment, *defaults]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # What autovacuum does within a minute of such an insert: statistics and the visibility map.
        cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(Job._meta.db_table)}" if postgresql else "ANALYZE")
    return time.perf_counter() - started


def render(client, window: str) -> tuple[float, int]:
    """Milliseconds and queries of one request for the section, as htmx sends it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get("/operations/performance/", {"window": window})
        elapsed = 1000 * (time.perf_counter() - started)
    assert response.status_code == 200, response.content[:500]
    assert b"Sales summary" in response.content
    return elapsed, len(queries)


def run(smoke: bool = False, postgres_url: str = "") -> list[Figure]:
    jobs = 10_000 if smoke else 1_000_000 if postgres_url else 100_000
    database = "PostgreSQL" if postgres_url else "SQLite"
    with Stack(postgres_url) as stack:
        from django.contrib.auth import get_user_model
        from django.test import Client

        from reports.models import Job
        from reports.operations import performance

        client = Client(HTTP_HX_REQUEST="true", HTTP_HOST="127.0.0.1")
        client.force_login(get_user_model().objects.create_superuser("bench-operator", password="x" * 20))
        empty_queries = render(client, "day")[1]
        seconds = insert_jobs(stack.user, jobs)
        started = time.perf_counter()
        rows = performance.roll_up_hours()  # what beat would have done, an hour at a time
        rolling = time.perf_counter() - started
        finished = Job.objects.filter(finished_at__isnull=False).count()
        figures, counts = [], []
        for window in ("hour", "day", "week"):
            render(client, window)  # warm-up: code paths and the database's caches
            times = []
            for _ in range(ROUNDS):
                elapsed, queries = render(client, window)
                times.append(elapsed)
                counts.append(queries)
            median = statistics.median(times)
            figure = Figure(
                "12. Operations performance", f"{database}, {jobs:,} jobs: the {window} window, median render",
                median, None, "ms", ratio_as="", goal=f"< {GOAL_MS} ms" if postgres_url else "report",
                note=f"slowest of {ROUNDS}: {max(times):.0f} ms",
            )  # fmt: skip
            figures.append(figure.check(lambda ms: ms < GOAL_MS) if postgres_url else figure)
        figures[0].note += (
            f"; {finished:,} finished jobs over 14 days, inserted in {seconds:.1f} s by one INSERT … SELECT "
            f"(then VACUUM ANALYZE / ANALYZE), the last week rolled up into {rows} JobHour rows in {rolling:.1f} s "
            f"(beat does it an hour at a time); the section as htmx asks for it, in-process, as a superuser; the hour "
            f"is exact, from the Job rows, the day and the week from the JobHour rows and the current hour's jobs"
        )
        figures.append(
            Figure("12. Operations performance", f"{database}: queries per render, empty table → {jobs:,} jobs",
                   max(counts), empty_queries, "queries", goal="constant").check(lambda ratio: ratio == 1)
        )  # fmt: skip
    return figures
