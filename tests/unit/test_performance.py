"""The Performance section of Operations: counts, failure rates and run / wait percentiles per
kind and per queue over a window, throughput and queue depth over time, the queue sampling task,
the sparklines and the view."""

import logging
from datetime import timedelta

import pytest
import redis
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reports import kinds
from reports.models import Job, JobHour, QueueSample
from reports.operations import performance
from reports.operations.durations import Duration
from reports.tasks import sample_queues
from reports.work.sparklines import sparkline
from tests.support import HTMX

pytestmark = pytest.mark.django_db

HOUR, DAY, WEEK = (performance.WINDOWS[name] for name in ("hour", "day", "week"))
SUCCEEDED, FAILED, CANCELLED = Job.Status.SUCCEEDED, Job.Status.FAILED, Job.Status.CANCELLED


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def staff_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="x" * 20))
    return client


@pytest.fixture
def empty_queues(broker):
    redis.Redis.from_url(broker.url).flushdb()
    yield redis.Redis.from_url(broker.url)
    redis.Redis.from_url(broker.url).flushdb()


def finished_job(owner, now, kind="sales_summary", *, run=1.0, wait=1.0, ago=timedelta(minutes=10),
                 status=SUCCEEDED) -> Job:  # fmt: skip
    """A job that waited `wait` seconds, ran `run` seconds and finished `ago` before now."""
    finished = now - ago
    started = finished - timedelta(seconds=run)
    return Job.objects.create(owner=owner, kind=kind, status=status, created_at=started - timedelta(seconds=wait),
                              started_at=started, finished_at=finished)  # fmt: skip


def seconds(duration):
    return None if duration is None else duration.seconds


def by_name(rows) -> dict[str, performance.Figures]:
    return {row.name: row for row in rows}


def test_counts_failure_rates_and_percentiles_per_kind_and_per_queue(user, now):
    for n in range(1, 11):  # runs 1..10 s, waits 0.1..1.0 s; two failed, one cancelled while running
        status = FAILED if n in (3, 7) else CANCELLED if n == 9 else SUCCEEDED
        finished_job(user, now, run=n, wait=n / 10, status=status)
    finished_job(user, now, "csv_profile", run=20, wait=4)
    finished_job(user, now, "csv_profile", run=40, wait=8, status=FAILED)
    # Cancelled while queued: finished, but it neither waited to start nor ran.
    Job.objects.create(owner=user, kind="csv_profile", status=CANCELLED, created_at=now - timedelta(minutes=20),
                       finished_at=now - timedelta(minutes=19))  # fmt: skip
    finished_job(user, now, "image_batch", run=3, wait=0.25)
    Job.objects.create(owner=user, kind="image_batch", status=Job.Status.RUNNING, started_at=now)

    result = performance.measure(HOUR, now=now)

    kinds, queues = by_name(result.kinds), by_name(result.queues)
    sales, profiles, images = kinds["sales_summary"], kinds["csv_profile"], kinds["image_batch"]
    assert (sales.finished, sales.failed, sales.failure_rate) == (10, 2, 0.2)
    # percentile_cont: the value at p × (n - 1) in order, interpolated between its neighbours.
    assert seconds(sales.run_p50) == pytest.approx(5.5, abs=1e-3)
    assert seconds(sales.run_p95) == pytest.approx(9.55, abs=1e-3)
    assert seconds(sales.wait_p50) == pytest.approx(0.55, abs=1e-3)
    assert seconds(sales.wait_p95) == pytest.approx(0.955, abs=1e-3)
    assert (profiles.finished, profiles.failed) == (3, 1)
    assert profiles.failure_rate == pytest.approx(1 / 3)
    assert seconds(profiles.run_p50) == pytest.approx(30, abs=1e-3)
    assert seconds(profiles.run_p95) == pytest.approx(39, abs=1e-3)
    assert seconds(profiles.wait_p50) == pytest.approx(6, abs=1e-3)
    assert (images.finished, images.failed, seconds(images.run_p50), seconds(images.run_p95)) == pytest.approx(
        (1, 0, 3, 3), abs=1e-3
    )
    assert seconds(images.wait_p95) == pytest.approx(0.25, abs=1e-3)

    assert set(queues) == {"reports", "images"}
    reports = queues["reports"]  # sales summaries and CSV profiles: runs 1..10, 20, 40
    assert (reports.finished, reports.failed) == (13, 3)
    assert seconds(reports.run_p50) == pytest.approx(6.5, abs=1e-3)
    assert seconds(reports.run_p95) == pytest.approx(29, abs=1e-3)
    assert seconds(reports.wait_p50) == pytest.approx(0.65, abs=1e-3)
    assert (queues["images"].finished, seconds(queues["images"].run_p50)) == pytest.approx((1, 3), abs=1e-3)


def test_a_window_leaves_out_jobs_that_finished_before_it(user, now):
    finished_job(user, now, run=2, ago=timedelta(minutes=30))
    finished_job(user, now, run=100, ago=timedelta(hours=3), status=FAILED)
    finished_job(user, now, run=100, ago=timedelta(days=2))

    hour = by_name(performance.measure(HOUR, now=now).kinds)["sales_summary"]
    day = by_name(performance.measure(DAY, now=now).kinds)["sales_summary"]
    week = by_name(performance.measure(WEEK, now=now).kinds)["sales_summary"]

    assert (hour.finished, hour.failed, seconds(hour.run_p95)) == pytest.approx((1, 0, 2), abs=1e-3)
    assert (day.finished, day.failed, week.finished) == (2, 1, 3)
    assert seconds(day.run_p50) == pytest.approx(51, rel=0.05)  # from histograms: within 5 %


def test_the_day_and_the_week_read_rolled_up_hours_and_the_jobs_since_alike(user, now):
    """The figures are the same before beat rolls the hours up, after, and half-way."""
    for n in range(1, 41):  # over the last 40 hours, runs of 1..40 s, waits of 0.5..20 s
        finished_job(user, now, "csv_profile" if n % 4 else "image_batch", run=n, wait=n / 2,
                     ago=timedelta(hours=n - 0.5), status=FAILED if n % 10 == 0 else SUCCEEDED)  # fmt: skip

    def figures(window):
        result = performance.measure(window, now=now)
        return [(row.name, row.finished, row.failed, row.throughput, seconds(row.run_p50), seconds(row.run_p95),
                 seconds(row.wait_p50), seconds(row.wait_p95)) for row in result.kinds + result.queues]  # fmt: skip

    before = figures(DAY), figures(WEEK)
    performance.roll_up_hours(now=now - timedelta(hours=12))
    assert (figures(DAY), figures(WEEK)) == before
    performance.roll_up_hours(now=now)
    assert (figures(DAY), figures(WEEK)) == before
    profiles = by_name(performance.measure(WEEK, now=now).kinds)["csv_profile"]
    assert (profiles.finished, profiles.failed) == (30, 2)
    # Exact percentile_cont of the 30 runs (1..39 s without the multiples of 4) is 20 and 37.55.
    assert seconds(profiles.run_p50) == pytest.approx(20, rel=0.05)
    assert seconds(profiles.run_p95) == pytest.approx(37.55, rel=0.05)
    assert sum(profiles.throughput) == 30 and len(profiles.throughput) == 42


def test_the_roll_up_writes_each_closed_hour_once_quiet_hours_too(user, now):
    # Half past, whatever the clock says: within the grace after an hour closes, that hour is not
    # rolled up yet, which is what the last two lines check from a known place.
    now = now.replace(minute=30)
    finished_job(user, now, ago=timedelta(hours=2))
    written = performance.roll_up_hours(now=now)
    hours = JobHour.objects.all()
    assert written == hours.count() == 7 * 24 * len(kinds.names())  # the longest window, every kind
    assert hours.filter(finished=1).count() == 1 and hours.filter(finished=0).count() == written - 1
    assert performance.roll_up_hours(now=now) == 0  # nothing new has closed
    # Two minutes after the hour closes, it is rolled up too.
    next_hour = now.replace(minute=0, second=0) + timedelta(hours=1)
    assert performance.roll_up_hours(now=next_hour + timedelta(minutes=1)) == 0
    assert performance.roll_up_hours(now=next_hour + timedelta(minutes=2)) == len(kinds.names())


def test_a_kind_with_no_jobs_shows_zero_and_no_percentiles(now):
    images = by_name(performance.measure(HOUR, now=now).kinds)["image_batch"]
    assert (images.finished, images.failure_rate, images.run_p50, images.wait_p95) == (0, None, None, None)
    assert images.throughput == [0] * 12


def test_throughput_counts_jobs_finished_in_each_bucket_oldest_first(user, now):
    finished_job(user, now, ago=timedelta(minutes=58))  # the first 5 minutes of the hour
    for _ in range(3):
        finished_job(user, now, ago=timedelta(minutes=2))  # the last 5 minutes
    finished_job(user, now, "csv_profile", ago=timedelta(minutes=2))

    result = performance.measure(HOUR, now=now)

    assert by_name(result.kinds)["sales_summary"].throughput == [1] + [0] * 10 + [3]
    assert by_name(result.queues)["reports"].throughput == [1] + [0] * 10 + [4]
    assert by_name(result.queues)["images"].throughput == [0] * 12


def test_queue_depth_is_the_most_waiting_in_each_bucket_with_gaps_where_nothing_was_sampled(now):
    QueueSample.objects.bulk_create(
        [
            QueueSample(queue="reports", taken_at=now - timedelta(minutes=58), waiting=4),
            QueueSample(queue="reports", taken_at=now - timedelta(minutes=57), waiting=9),
            QueueSample(queue="reports", taken_at=now - timedelta(minutes=1), waiting=2),
            QueueSample(queue="reports", taken_at=now - timedelta(hours=2), waiting=50),  # before the window
            QueueSample(queue="images", taken_at=now - timedelta(minutes=1), waiting=0),
        ]
    )
    queues = by_name(performance.measure(HOUR, now=now).queues)
    assert queues["reports"].waiting == [9] + [None] * 10 + [2]
    assert queues["images"].waiting == [None] * 11 + [0]


def test_sampling_records_one_sample_per_queue_and_deletes_old_ones(empty_queues, now, settings):
    settings.OFFLOAD_QUEUE_SAMPLE_DAYS = 8
    empty_queues.lpush("reports", "a", "b")
    old = QueueSample.objects.create(queue="reports", taken_at=now - timedelta(days=8, minutes=1), waiting=1)
    kept = QueueSample.objects.create(queue="reports", taken_at=now - timedelta(days=7), waiting=1)

    assert sample_queues() == 3

    latest = QueueSample.objects.exclude(pk=kept.pk)
    assert dict(latest.values_list("queue", "waiting")) == {"default": 0, "reports": 2, "images": 0}
    assert latest.values("taken_at").distinct().count() == 1
    assert not QueueSample.objects.filter(pk=old.pk).exists()


def test_sampling_records_nothing_and_says_so_while_the_broker_is_down(broker, caplog):
    broker.stop()
    try:
        with caplog.at_level(logging.WARNING, logger="reports.operations.performance"):
            assert sample_queues() == 0
    finally:
        broker.start(port=broker.port)
    assert not QueueSample.objects.exists()
    assert "Queue depth not sampled: the broker could not be reached" in caplog.text


def test_durations_read_as_a_person_says_them():
    shown = [str(Duration(s)) for s in (0.04, 2.54, 12.4, 59.6, 185, 7440, 3600)]
    assert shown == ["40 ms", "2.5 s", "12 s", "1 min", "3 min 5 s", "2 h 4 min", "1 h"]


def test_a_sparkline_states_its_numbers_in_words_and_marks_highest_and_lowest_by_shape():
    svg = sparkline([3, 0, 14, None, 5], "Sales <summary>: jobs finished per hour")
    label = "Sales &lt;summary&gt;: jobs finished per hour, 5 intervals: latest 5, highest 14, lowest 0; no data for 1 of them."
    assert f'role="img" aria-label="{label}"' in svg and f"<title>{label}</title>" in svg
    assert svg.count("<polygon") == 2  # ▲ on the highest, ▽ on the lowest
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1  # the gap splits the line; 5 stands alone
    assert svg.endswith('fill="currentColor">5</text></svg>')


def test_a_sparkline_of_nothing_says_so():
    assert "no data in this window" in sparkline([None, None], "Queue images")
    assert "the same in every interval" in sparkline([2, 2, 2], "Queue images")


def test_the_section_renders_for_staff_with_a_table_and_lines(staff_client, user, now):
    finished_job(user, now, run=2, wait=1)
    response = staff_client.get(reverse("operations_performance"), {"window": "hour"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" in page and "Performance: last hour" in page  # a page of its own without htmx
    assert "Sales summary" in page and "reports" in page and "2.0 s" in page and "<svg" in page
    assert 'aria-current="true">Last hour<' in page and "?window=week" in page


def test_htmx_gets_only_the_section(staff_client):
    fragment = staff_client.get(reverse("operations_performance"), {"window": "week"}, **HTMX).content.decode()
    assert fragment.lstrip().startswith('<section id="performance"') and "<html" not in fragment
    assert 'hx-get="/operations/performance/?window=day"' in fragment and 'hx-target="#performance"' in fragment


def test_the_day_is_the_default_window_and_a_wrong_one_is_a_400_that_says_why(staff_client):
    assert "Performance: last day" in staff_client.get(reverse("operations_performance")).content.decode()
    response = staff_client.get(reverse("operations_performance"), {"window": "month"})
    assert response.status_code == 400
    assert response.content.decode() == "Unknown window 'month': choose hour, day or week."


def test_the_section_is_hidden_from_everyone_else(owner_client, client):
    assert owner_client.get(reverse("operations_performance")).status_code == 404
    owner_client.logout()
    assert client.get(reverse("operations_performance")).status_code == 302  # to sign in


def test_read_only_operators_see_it(owner_client, user):
    user.groups.add(Group.objects.get(name="Operators (read-only)"))
    assert owner_client.get(reverse("operations_performance")).status_code == 200


@pytest.mark.parametrize("window", ["hour", "week"])
def test_the_queries_do_not_grow_with_the_number_of_jobs(
    staff_client, user, now, window, django_assert_max_num_queries
):
    def render_queries() -> int:
        with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as queries:
            assert staff_client.get(reverse("operations_performance"), {"window": window}, **HTMX).status_code == 200
        return len(queries)

    names = ["sales_summary", "csv_profile", "image_batch"]
    make = [finished_job(user, now, names[n % 3], run=n, ago=timedelta(minutes=n % 50)) for n in range(10)]
    with_ten = render_queries()
    Job.objects.bulk_create(
        Job(owner=user, kind=names[n % 3], status=SUCCEEDED, created_at=now - timedelta(minutes=n % 50, seconds=9),
            started_at=now - timedelta(minutes=n % 50, seconds=5), finished_at=now - timedelta(minutes=n % 50))
        for n in range(190)
    )  # fmt: skip
    assert len(make) + 190 == Job.objects.count()
    assert render_queries() == with_ten
