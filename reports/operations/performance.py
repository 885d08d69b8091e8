"""The Operations page's Performance section: per job kind and per queue over the last hour, day
or week, how many jobs finished, the share that failed, and the 50th and 95th percentiles of
their run time and of their wait in the queue; jobs finished and queue depth over time for the
sparklines; and what beat records for it (hourly roll-ups of finished jobs, queue depth samples).

How the percentiles are computed, and why. Exact SQL over the Job rows came first, and was
measured with 1,000,000 jobs over two weeks on PostgreSQL on a 2-core machine: the hour (3,000
jobs) took 31 ms, the day (70,000) 280 ms and the week (500,000) 2.5 s, nearly all of it reading
and sorting rows; no index brings reading and sorting half a million rows under the page's 200 ms
goal. So:

- The hour is exact, read from the Job rows: `percentile_cont` on PostgreSQL; on SQLite, which
  has no percentile function, a window query numbers each group's durations in order and returns
  only the rows either side of each percentile, which Python interpolates as `percentile_cont`
  does (durations.py).
- The day and the week are read from `JobHour` rows: beat rolls every hour that has closed into
  one row per kind (counts, and run and wait times as histograms with bins 10 % apart, so a
  percentile read from them is within 5 % of the exact one), and the jobs that finished since the
  last hour rolled up are read from their own rows into the same shape. A week is then 504 small
  rows and an hour of jobs, whatever the volume. Histograms add up, so a queue's figures are its
  kinds' summed. Counts and failure rates are exact in every window.

A render makes the same number of queries whatever the number of jobs (4 for the hour, 6 for the
day or the week), and no list of durations reaches Python. With the same million jobs the
section renders in about 20 ms (hour), 40 ms (day) and 80 ms (week): `python -m tests.benchmarks
--only operations`.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    Max,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Floor, Trunc
from django.utils import timezone

from reports.kinds import choices as kind_choices
from reports.kinds import get as registered_kind
from reports.kinds import names as kind_names
from reports.models import Job, JobHour, QueueSample
from reports.operations import overview
from reports.operations.durations import (
    MEASURES,
    PERCENTILES,
    RUN,
    WAIT,
    Duration,
    ElapsedSeconds,
    PercentileCont,
    bin_of,
    interpolate,
    percentile_of_bins,
)
from reports.work.sparklines import sparkline

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
# An hour is rolled up this long after it closed, so a job whose finish was written in its last
# moments has committed by then.
ROLL_UP_GRACE = timedelta(minutes=2)


@dataclass(frozen=True)
class Window:
    name: str
    title: str
    span: timedelta
    bucket: timedelta
    bucket_words: str  # "per 5 minutes"
    exact: bool  # read from the Job rows; else from the JobHour rows and the jobs since

    @property
    def buckets(self) -> int:
        return self.span // self.bucket

    def start(self, now: datetime) -> datetime:
        if self.exact:
            return now - self.span
        # Whole hours, the last one the current hour so far, so that the hourly rows fill buckets.
        return now.replace(minute=0, second=0, microsecond=0) + HOUR - self.span


WINDOWS = {
    window.name: window
    for window in (
        Window("hour", "Last hour", timedelta(hours=1), timedelta(minutes=5), "per 5 minutes", exact=True),
        Window("day", "Last day", timedelta(days=1), timedelta(hours=1), "per hour", exact=False),
        Window("week", "Last week", timedelta(days=7), timedelta(hours=4), "per 4 hours", exact=False),
    )
}
DEFAULT_WINDOW = "day"
LONGEST = max(window.span for window in WINDOWS.values())


@dataclass
class Figures:
    """What the jobs of one kind, or of one queue, did in a window."""

    name: str  # the kind's value or the queue's name
    label: str  # what the page calls it
    window: Window = field(repr=False)
    finished: int = 0
    failed: int = 0
    run_p50: Duration | None = None
    run_p95: Duration | None = None
    wait_p50: Duration | None = None
    wait_p95: Duration | None = None
    # Jobs finished in each bucket of the window, oldest first.
    throughput: list[int] = field(default_factory=list)
    # Queues only: the most messages waiting in each bucket (None: no sample then).
    waiting: list[int | None] | None = None

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.finished if self.finished else None

    @property
    def failure_percent(self) -> str:
        rate = self.failure_rate
        return "" if rate is None else f"{100 * rate:.1f} %"

    @property
    def throughput_chart(self) -> str:
        return sparkline(self.throughput, f"{self.label}: jobs finished {self.window.bucket_words}")

    @property
    def waiting_chart(self) -> str:
        if self.waiting is None:
            return ""
        return sparkline(self.waiting, f"Queue {self.label}: most messages waiting {self.window.bucket_words}")


@dataclass
class Performance:
    window: Window
    start: datetime
    end: datetime
    kinds: list[Figures]
    queues: list[Figures]


def queue_of(kind: str) -> str:
    """The queue a job of this kind waits in (its declaration says)."""
    return registered_kind(kind).queue


def job_queues() -> dict[str, list[str]]:
    """Each queue jobs wait in, with its kinds, in the order they were declared."""
    queues: dict[str, list[str]] = {}
    for kind in kind_names():
        queues.setdefault(queue_of(kind), []).append(kind)
    return queues


def measure(window: Window, now: datetime | None = None) -> Performance:
    """The figures of every kind and of every queue that jobs wait in, over the window up to now."""
    end = now or timezone.now()
    start = window.start(end)
    queues = job_queues()
    kinds = {kind: Figures(kind, label, window, throughput=[0] * window.buckets) for kind, label in kind_choices()}
    by_queue = {
        name: Figures(name, name, window, throughput=[0] * window.buckets, waiting=[None] * window.buckets)
        for name in queues
    }
    if window.exact:
        measure_exactly(window, start, end, kinds, by_queue, queues)
    else:
        measure_from_hours(window, start, end, kinds, by_queue, queues)
    samples = QueueSample.objects.filter(queue__in=list(queues), taken_at__gt=start, taken_at__lte=end).order_by()
    samples = bucketed(samples, "queue", "taken_at", start, window).annotate(peak=Max("waiting"))
    for queue, bucket, peak in samples.values_list("queue", "bucket", "peak"):
        by_queue[queue].waiting[bucket_index(bucket, window)] = peak
    return Performance(window, start, end, list(kinds.values()), list(by_queue.values()))


def bucketed(rows: QuerySet, group: str, moment: str, start: datetime, window: Window) -> QuerySet:
    """Rows grouped by `group` and by the bucket of the window `moment` falls in (0 = oldest)."""
    since = ElapsedSeconds(F(moment), Value(start, output_field=DateTimeField()))
    return rows.annotate(bucket=Floor(since / window.bucket.total_seconds())).values(group, "bucket")


def bucket_index(bucket: float, window: Window) -> int:
    # A moment exactly at the window's end belongs to the last bucket.
    return min(max(int(bucket), 0), window.buckets - 1)


# --- The hour: exact, from the Job rows ----------------------------------------------------------


def measure_exactly(window, start, end, kinds: dict, queues: dict, kinds_of: dict[str, list[str]]) -> None:
    # No ordering: Job's default (-created_at) would only cost a sort here.
    # Kinds no longer declared (a team removed one) are left out, not a KeyError.
    jobs = Job.objects.finished().filter(finished_at__gt=start, finished_at__lte=end, kind__in=list(kinds)).order_by()
    jobs = jobs.annotate(
        queue=Case(
            *(When(kind__in=group, then=Value(name)) for name, group in kinds_of.items()), output_field=CharField()
        )
    )
    summarise = summarise_postgresql if connection.vendor == "postgresql" else summarise_sqlite
    summarise(jobs, kinds, queues)
    queue_of_kind = {kind: queue for queue, group in kinds_of.items() for kind in group}
    finished = bucketed(jobs, "kind", "finished_at", start, window).annotate(count=Count("*"))
    for kind, bucket, count in finished.values_list("kind", "bucket", "count"):
        kinds[kind].throughput[bucket_index(bucket, window)] += count
        queues[queue_of_kind[kind]].throughput[bucket_index(bucket, window)] += count


def summarise_postgresql(jobs: QuerySet, kinds: dict[str, Figures], queues: dict[str, Figures]) -> None:
    aggregates = {
        "finished": Count("*"),
        "failed": Count("status", filter=Q(status=Job.Status.FAILED)),
        **{
            f"{name}_p{round(100 * fraction)}": PercentileCont(expression, fraction)
            for name, expression in MEASURES.items()
            for fraction in PERCENTILES
        },
    }
    for group, figures in (("kind", kinds), ("queue", queues)):
        for row in jobs.values(group).annotate(**aggregates):
            target = figures[row.pop(group)]
            target.finished, target.failed = row.pop("finished"), row.pop("failed")
            for name, seconds in row.items():  # the percentiles: None when no job of the group ran
                setattr(target, name, None if seconds is None else Duration(seconds))


# The durations of each group in order, numbered, and only the rows either side of each percentile
# returned: exactly percentile_cont's inputs (position p × (n - 1), counted from 0).
SQLITE_PERCENTILES = """
WITH finished AS ({jobs}),
measured AS (
    SELECT 'kind' AS grouping, kind AS name, 'run' AS measure, run AS seconds FROM finished WHERE run IS NOT NULL
    UNION ALL SELECT 'kind', kind, 'wait', wait FROM finished WHERE wait IS NOT NULL
    UNION ALL SELECT 'queue', queue, 'run', run FROM finished WHERE run IS NOT NULL
    UNION ALL SELECT 'queue', queue, 'wait', wait FROM finished WHERE wait IS NOT NULL
),
ranked AS (
    SELECT grouping, name, measure, seconds,
           row_number() OVER (PARTITION BY grouping, name, measure ORDER BY seconds) - 1 AS position,
           count(*) OVER (PARTITION BY grouping, name, measure) AS total
    FROM measured
)
SELECT grouping, name, measure, total, position, seconds FROM ranked
WHERE {near}
"""


def summarise_sqlite(jobs: QuerySet, kinds: dict[str, Figures], queues: dict[str, Figures]) -> None:
    counts = jobs.values("kind", "queue").annotate(
        finished=Count("*"), failed=Count("status", filter=Q(status=Job.Status.FAILED))
    )
    for row in counts:
        for figures in (kinds[row["kind"]], queues[row["queue"]]):
            figures.finished += row["finished"]
            figures.failed += row["failed"]
    sql, params = jobs.annotate(run=RUN, wait=WAIT).values("kind", "queue", "run", "wait").query.sql_with_params()
    near = " OR ".join(
        f"position IN (CAST({fraction!r} * (total - 1) AS INTEGER), CAST({fraction!r} * (total - 1) AS INTEGER) + 1)"
        for fraction in PERCENTILES
    )
    ordered: dict[tuple[str, str, str], tuple[int, dict[int, float]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(SQLITE_PERCENTILES.format(jobs=sql, near=near), params)
        for grouping, name, measure, total, position, seconds in cursor.fetchall():
            ordered.setdefault((grouping, name, measure), (total, {}))[1][position] = seconds
    for (grouping, name, measure), (total, values) in ordered.items():
        target = (kinds if grouping == "kind" else queues)[name]
        for fraction in PERCENTILES:
            setattr(target, f"{measure}_p{round(100 * fraction)}", Duration(interpolate(values.get, total, fraction)))


# --- The day and the week: from the hours rolled up, and the jobs since --------------------------


# Each kind's histograms summed over the hours, in the database: a week is 1,008 small JSON
# objects, which Python would take longer to decode and add up than the database takes.
SUMMED_BINS = {
    "postgresql": "SELECT hours.kind, '{measure}', bins.key, sum(bins.value::integer) "
    "FROM ({hours}) AS hours, jsonb_each_text(hours.{measure}_bins) AS bins GROUP BY hours.kind, bins.key",
    "sqlite": "SELECT hours.kind, '{measure}', bins.key, sum(bins.value) "
    "FROM ({hours}) AS hours, json_each(hours.{measure}_bins) AS bins GROUP BY hours.kind, bins.key",
}


def measure_from_hours(window, start, end, kinds: dict, queues: dict, kinds_of: dict[str, list[str]]) -> None:
    queue_of_kind = {kind: queue for queue, group in kinds_of.items() for kind in group}
    rolled_up = JobHour.objects.filter(hour__gte=start, hour__lt=end, kind__in=list(kinds)).order_by()
    hours = [JobHour(hour=hour, kind=kind, finished=finished, failed=failed, run_bins={}, wait_bins={})
             for hour, kind, finished, failed in rolled_up.values_list("hour", "kind", "finished", "failed")]  # fmt: skip
    bins = {(kind, measure): Counter() for kind in kinds for measure in MEASURES}
    sql, params = rolled_up.values("kind", "run_bins", "wait_bins").query.sql_with_params()
    with connection.cursor() as cursor:
        summed = [SUMMED_BINS[connection.vendor].format(measure=measure, hours=sql) for measure in MEASURES]
        cursor.execute(" UNION ALL ".join(summed), params * len(MEASURES))
        for kind, measure, bin, count in cursor.fetchall():
            bins[kind, measure][bin] += count
    # The jobs that finished after the last hour rolled up (normally this hour's) come from their rows.
    since = max((row.hour for row in hours), default=start - HOUR) + HOUR
    for row in hourly(since, end):
        hours.append(row)
        bins[row.kind, "run"].update(row.run_bins)
        bins[row.kind, "wait"].update(row.wait_bins)
    for row in hours:
        index = bucket_index((row.hour - start) / window.bucket, window)
        for figures in (kinds[row.kind], queues[queue_of_kind[row.kind]]):
            figures.finished += row.finished
            figures.failed += row.failed
            figures.throughput[index] += row.finished
    # Histograms add up: a queue's is the sum of its kinds'.
    for queue, group in kinds_of.items():
        for measure in MEASURES:
            bins[queue, measure] = sum((bins[kind, measure] for kind in group), Counter())
    for figures in (*kinds.values(), *queues.values()):
        for measure in MEASURES:
            for fraction in PERCENTILES:
                percentile = percentile_of_bins(bins[figures.name, measure], fraction)
                setattr(figures, f"{measure}_p{round(100 * fraction)}", percentile)


def hourly(since: datetime, until: datetime, every_hour: bool = False) -> list[JobHour]:
    """JobHour rows (not saved) of the jobs that finished from `since` until `until`, in three
    queries; with `every_hour`, a row for every kind and every whole hour, however quiet."""
    jobs = Job.objects.finished().filter(finished_at__gte=since, finished_at__lt=until, kind__in=kind_names())
    jobs = jobs.order_by().annotate(hour=Trunc("finished_at", "hour", tzinfo=UTC))
    rows: dict[tuple[str, datetime], JobHour] = {}

    def row(kind: str, hour: datetime) -> JobHour:
        return rows.setdefault((kind, hour), JobHour(kind=kind, hour=hour, run_bins={}, wait_bins={}))

    hour = since
    while every_hour and hour < until:
        for kind in kind_names():
            row(kind, hour)
        hour += HOUR
    counted = jobs.values("kind", "hour").annotate(
        finished=Count("*"), failed=Count("status", filter=Q(status=Job.Status.FAILED))
    )
    for kind, hour, finished, failed in counted.values_list("kind", "hour", "finished", "failed"):
        row(kind, hour).finished, row(kind, hour).failed = finished, failed
    started = jobs.filter(started_at__isnull=False)
    for measure, seconds in MEASURES.items():
        binned = started.annotate(bin=bin_of(seconds)).values("kind", "hour", "bin").annotate(count=Count("*"))
        for kind, hour, bin, count in binned.values_list("kind", "hour", "bin", "count"):
            getattr(row(kind, hour), f"{measure}_bins")[str(int(bin))] = count
    return list(rows.values())


def roll_up_hours(now: datetime | None = None) -> int:
    """Beat's roll-up: every hour that has closed since the last one rolled up becomes a JobHour
    row per kind (quiet hours too, so the latest row says how far the roll-up has come). Safe to
    run twice; rows past OFFLOAD_RETENTION_DAYS go. Returns the rows written."""
    now = now or timezone.now()
    until = (now - ROLL_UP_GRACE).replace(minute=0, second=0, microsecond=0)
    JobHour.objects.filter(hour__lt=now - timedelta(days=settings.OFFLOAD_RETENTION_DAYS)).delete()
    latest = JobHour.objects.aggregate(latest=Max("hour"))["latest"]
    # After a long stop (or the first time) the hours older than every window are not worth reading.
    since = max(latest + HOUR if latest else until - LONGEST, until - LONGEST)
    if since >= until:
        return 0
    rows = hourly(since, until, every_hour=True)
    JobHour.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["hour", "kind"],
        update_fields=["finished", "failed", "run_bins", "wait_bins"],
    )  # fmt: skip
    return len(rows)


# --- Queue depth ---------------------------------------------------------------------------------


def record_queue_samples(now: datetime | None = None) -> int:
    """Beat's minute sample: the messages waiting in each queue, in one INSERT; samples older than
    OFFLOAD_QUEUE_SAMPLE_DAYS go. Returns how many were recorded: none when the broker cannot be
    reached, which leaves a gap in the line rather than a false zero."""
    now = now or timezone.now()
    QueueSample.objects.filter(taken_at__lt=now - timedelta(days=settings.OFFLOAD_QUEUE_SAMPLE_DAYS)).delete()
    lengths = overview.queue_lengths()
    if lengths is None:
        logger.warning("Queue depth not sampled: the broker could not be reached")
        return 0
    QueueSample.objects.bulk_create(
        QueueSample(queue=name, taken_at=now, waiting=count) for name, count in lengths.items()
    )
    return len(lengths)
