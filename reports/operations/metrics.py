"""Prometheus metrics at /metrics: jobs, their run and wait times, queues, workers and open streams,
read from the database and Redis on every scrape.

Nothing is counted in process memory: the web runs several processes and a scrape reaches one of
them, so each value is the current truth every process shares (the Job table, the broker, the
streams' sorted sets on Redis).
"""

import ipaddress
import logging
import secrets
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta

import redis
from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from redis.backoff import NoBackoff
from redis.retry import Retry

from project import celery_app
from reports import kinds
from reports.engine import events
from reports.live import streams
from reports.models import Job
from reports.operations import overview

logger = logging.getLogger(__name__)

# Upper bounds (seconds) of the run and wait histograms' buckets; +Inf is added.
BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 600)
# The histograms cover jobs that finished this recently.
HISTOGRAM_WINDOW = timedelta(hours=1)
# A scrape gives up on a Redis that does not answer within this, and never retries: a scrape
# that hangs tells an operator less than one that says the broker is down.
REDIS_TIMEOUT = 1.0
# Counting open streams walks Redis's keys with SCAN, this many per call, for at most this many
# calls (a million keys); past that the count is left out rather than given short.
SCAN_COUNT = 1000
SCAN_CALLS = 1000


def redis_client(url: str) -> redis.Redis:
    # No retries: redis-py's default tries a refused connection ten times, with backoff.
    return redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT, retry=Retry(NoBackoff(), 0)
    )


def broker_reachable() -> bool:
    """Whether the broker answers a PING. Asked first, because queue_lengths() would wait out
    kombu's own retry interval (2 s) to say what a refused connection says at once."""
    try:
        with redis_client(celery_app.conf.broker_url) as client:
            return bool(client.ping())
    except redis.RedisError as error:
        logger.warning("Metrics: the broker cannot be reached (%s)", error)
        return False


def streams_open() -> int | None:
    """Live entries of every person's stream set (`offload:streams:<user>`), summed; None when
    their Redis cannot be reached or holds too many keys to walk in one scrape.

    Each entry is one open stream, in whichever web process holds it, so this is the count
    across processes. What it does not see: a stream whose process was killed is counted until
    its entry expires (two heartbeats, 30 s by default); `streams.open_here`, each process's own
    count, is in that process's memory and cannot be read from here (the sets count the same
    streams); and pages that poll instead of streaming are not streams at all.
    """
    pattern = streams.user_key("*")
    try:
        with redis_client(events.redis_url()) as client:
            keys, cursor = [], 0
            for _ in range(SCAN_CALLS):
                cursor, found = client.scan(cursor, match=pattern, count=SCAN_COUNT)
                keys.extend(found)
                if cursor == 0:
                    break
            else:
                logger.warning("Metrics: more keys on Redis than one scrape walks; open streams left out")
                return None
            now = time.time()
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.zcount(key, f"({now}", "+inf")  # entries expire at their score
            return sum(pipe.execute())
    except redis.RedisError as error:
        logger.warning("Metrics: could not count the open streams (%s)", error)
        return None


def jobs_by_kind_and_status() -> GaugeMetricFamily:
    counted = {
        (row["kind"], row["status"]): row["jobs"]
        for row in Job.objects.order_by().values("kind", "status").annotate(jobs=Count("pk"))
    }
    family = GaugeMetricFamily("offload_jobs", "Jobs in the database by kind and status.", labels=["kind", "status"])
    # Every pair, with 0 for none: a series that vanished would read as "no data", not as none.
    for kind in kinds.names():
        for status in Job.Status.values:
            family.add_metric([kind, status], counted.get((kind, status), 0))
    return family


def duration_histograms() -> list[HistogramMetricFamily]:
    """Run time (started to finished) and wait in the queue (created to started) of the jobs that
    finished within the last hour, per kind: every bucket counted by the database in one query.

    A job that never started (cancelled while queued) is in neither. For a job started again
    (a retry, a dead worker's restart), started_at is its last attempt's start: its run is that
    attempt's, its wait everything before it.
    """
    durations = {
        "run": ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField()),
        "wait": ExpressionWrapper(F("started_at") - F("created_at"), output_field=DurationField()),
    }
    aggregates = {}
    for name in durations:
        for index, bound in enumerate(BUCKETS):
            aggregates[f"{name}_{index}"] = Count("pk", filter=Q(**{f"{name}__lte": timedelta(seconds=bound)}))
        aggregates[f"{name}_count"] = Count("pk")
        aggregates[f"{name}_sum"] = Sum(name)
    finished = Job.objects.finished().filter(
        finished_at__gte=timezone.now() - HISTOGRAM_WINDOW, started_at__isnull=False
    )
    rows = {row["kind"]: row for row in finished.alias(**durations).order_by().values("kind").annotate(**aggregates)}
    families = []
    for name, what in (("run", "Run time"), ("wait", "Time waiting in the queue")):
        family = HistogramMetricFamily(
            f"offload_job_{name}_seconds",
            f"{what} of the jobs that finished within the last hour, by kind (a window, not a running total).",
            labels=["kind"],
        )
        for kind in kinds.names():
            row = rows.get(kind, {})
            buckets = [(floatToGoString(bound), row.get(f"{name}_{i}", 0)) for i, bound in enumerate(BUCKETS)]
            buckets.append(("+Inf", row.get(f"{name}_count", 0)))
            total = row.get(f"{name}_sum") or timedelta(0)
            family.add_metric([kind], buckets, total.total_seconds())
        families.append(family)
    return families


class OffloadCollector:
    """prometheus_client's Collector: everything read afresh on each scrape."""

    def collect(self) -> Iterator[Metric]:
        yield jobs_by_kind_and_status()
        yield from duration_histograms()

        # queue_lengths() is None when the broker answered the PING and then failed.
        queues = overview.queue_lengths() if broker_reachable() else None
        yield GaugeMetricFamily(
            "offload_broker_up",
            "1 if the broker (Redis) answered this scrape, else 0.",
            value=0 if queues is None else 1,
        )
        if queues is not None:
            depth = GaugeMetricFamily("offload_queue_messages", "Messages waiting in the queue.", labels=["queue"])
            for queue, messages in queues.items():
                depth.add_metric([queue], messages)
            yield depth
            # Asked through the broker, so only when it is up; None when the broadcast failed.
            workers = overview.workers_online()
            if workers is not None:
                yield GaugeMetricFamily(
                    "offload_workers_online",
                    "Celery workers that answered a broadcast within a second.",
                    value=len(workers),
                )

        open_streams = streams_open()
        if open_streams is not None:
            yield GaugeMetricFamily(
                "offload_streams_open",
                "Server-sent event streams open across all web processes (each person's live stream entries).",
                value=open_streams,
            )


registry = CollectorRegistry()  # our own: nothing else a library registers leaks into the scrape
registry.register(OffloadCollector())


def address_allowed(address: str, allowed: Iterable[str]) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    # A dual-stack server shows an IPv4 client as ::ffff:a.b.c.d.
    candidates = [client, client.ipv4_mapped] if client.version == 6 and client.ipv4_mapped else [client]
    return any(candidate in ipaddress.ip_network(entry, strict=False) for entry in allowed for candidate in candidates)


def token_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # An empty token must never match an empty header.
    return bool(token) and scheme.lower() == "bearer" and secrets.compare_digest(given.encode(), token.encode())


def metrics(request: HttpRequest) -> HttpResponse:
    """The scrape. Off (404 to everyone) unless OFFLOAD_METRICS_TOKEN or OFFLOAD_METRICS_ALLOW is
    set; then it answers a matching `Authorization: Bearer` token or an allowed address, and 403
    to anyone else. No session, no CSRF: a scraper has neither."""
    token, allowed = settings.OFFLOAD_METRICS_TOKEN, settings.OFFLOAD_METRICS_ALLOW
    if not token and not allowed:
        raise Http404("No such page.")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    if not (token_matches(request, token) or address_allowed(request.META.get("REMOTE_ADDR", ""), allowed)):
        return HttpResponseForbidden("Not allowed.\n", content_type="text/plain")
    response = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
