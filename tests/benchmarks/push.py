"""Push against polling (issue 8), on one uvicorn process (DEBUG off) and the same jobs:

- latency from a progress write (here, as a worker makes it: UPDATE + "job changed" event) to
  the new fragment arriving at a client: an event stream vs polling every second with ETags;
- watchers one process holds, each a person with a page open on a job of their own that moves
  every 5 s, while the server keeps up (p95 under 200 ms: for push, write → fragment; for
  polling, each poll's response time), and the server's CPU per watcher per minute.

The clients are asyncio tasks in a process of their own; the writes come from this one.
"""

import asyncio
import multiprocessing
import random
import re
import statistics
import time

import httpx

from .figures import Figure
from .load import percentile
from .stack import Stack
from .web import server_cpu_seconds

P95_LIMIT_MS = 200
MOVES_EVERY = 5.0
LATENCY_MOVES_EVERY = 2.0
PERCENT = re.compile(r'aria-valuenow="(\d+)"')


def parse_percent(html: str) -> int | None:
    match = PERCENT.search(html)
    return int(match.group(1)) if match else None


# Pages open at this many a second, as people arrive (not all in the same instant).
OPENED_PER_SECOND = 100


async def _stream(client: httpx.AsyncClient, job_id: str, seen: list, opened: set, offset: float) -> None:
    await asyncio.sleep(offset)
    try:
        async with client.stream("GET", f"/jobs/{job_id}/events/") as response:
            if response.status_code != 200:
                seen.append((job_id, "error", time.time()))
                return
            data = []
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    data.append(line[6:])
                elif line == "" and data:
                    seen.append((job_id, parse_percent("\n".join(data)), time.time()))
                    opened.add(job_id)
                    data = []
    except httpx.HTTPError:
        seen.append((job_id, "error", time.time()))


async def _poll(client: httpx.AsyncClient, job_id: str, seen: list, timings: list, opened: set, offset: float) -> None:
    await asyncio.sleep(offset)
    etag = None
    while True:
        started = time.monotonic()
        try:
            headers = {"HX-Request": "true", **({"If-None-Match": etag} if etag else {})}
            response = await client.get(f"/jobs/{job_id}/status/", headers=headers)
            timings.append((time.time(), 1000 * (time.monotonic() - started)))
            if response.status_code == 200:
                etag = response.headers.get("ETag")
                seen.append((job_id, parse_percent(response.text), time.time()))
            opened.add(job_id)
        except httpx.HTTPError:
            timings.append((time.time(), 3_600_000))
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


async def _watch(base_url: str, watchers: list[tuple[str, str]], mode: str, ready, stop) -> tuple[list, list]:
    """watchers: (session cookie, job id). Sets `ready` once every page has its first fragment,
    watches until `stop`; returns what each page saw, and poll response times."""
    seen, timings, opened = [], [], set()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    clients = [httpx.AsyncClient(base_url=base_url, cookies={"sessionid": cookie}, timeout=60, limits=limits)
               for cookie, _ in watchers]  # fmt: skip
    offsets = random.Random(len(watchers))  # polls at no fixed phase to the writes
    if mode == "push":
        tasks = [asyncio.create_task(_stream(client, job, seen, opened, n / OPENED_PER_SECOND))
                 for n, (client, (_, job)) in enumerate(zip(clients, watchers, strict=True))]  # fmt: skip
    else:
        tasks = [asyncio.create_task(_poll(client, job, seen, timings, opened, offsets.random()))
                 for client, (_, job) in zip(clients, watchers, strict=True)]  # fmt: skip
    while not stop.is_set():
        if len(opened) == len(watchers):
            ready.set()
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(client.aclose() for client in clients), return_exceptions=True)
    return seen, timings


def _watch_in_process(base_url, watchers, mode, ready, stop, results) -> None:
    results.put(asyncio.run(_watch(base_url, watchers, mode, ready, stop)))


def run_watchers(stack: Stack, server, watchers, mode: str, seconds: float, moves_every: float) -> dict:
    """Once every page is open, watch for `seconds` while every job moves every `moves_every` s
    (staggered); then two more seconds for the last changes to arrive."""
    from reports.engine import jobs

    context = multiprocessing.get_context("fork")
    results, ready, stop = context.Queue(), context.Event(), context.Event()
    client = context.Process(target=_watch_in_process, args=(server.base_url, watchers, mode, ready, stop, results))
    client.start()
    if not ready.wait(60 + len(watchers) / 20):
        stop.set()
        client.join(30)
        return {"delivery": [], "missed": 0, "writes": 0, "errors": len(watchers), "timings": [],
                "cpu_per_watcher_minute": float("nan")}  # fmt: skip
    cpu_before, started, since = server_cpu_seconds(server), time.monotonic(), time.time()
    from django.db.models import Max

    from reports.models import Job

    # Onwards from where the jobs stand (pages opened earlier have seen the earlier values).
    percent = Job.objects.filter(pk__in=[job for _, job in watchers]).aggregate(top=Max("progress"))["top"]
    writes, tick = [], 0
    while time.monotonic() - started < seconds - moves_every / len(watchers):
        percent = min(percent + 1, 99)
        for number, (_, job_id) in enumerate(watchers):
            due = started + tick * moves_every + moves_every * number / len(watchers)
            time.sleep(max(0.0, due - time.monotonic()))
            writes.append((job_id, percent, time.time()))
            jobs.set_progress(job_id, percent, "Moving")
        tick += 1
    cpu = server_cpu_seconds(server) - cpu_before
    elapsed = time.monotonic() - started
    time.sleep(2)
    stop.set()
    seen, timings = results.get(timeout=120)
    client.join(30)
    timings = [latency for at, latency in timings if at >= since]
    arrivals = {}
    for job_id, seen_percent, at in seen:
        if seen_percent != "error":
            arrivals.setdefault((job_id, seen_percent), at)
    delivered = [1000 * (arrivals[(job, p)] - at) for job, p, at in writes if (job, p) in arrivals]
    errors = sum(1 for _, p, _ in seen if p == "error")
    return {
        "delivery": delivered, "missed": len(writes) - len(delivered), "writes": len(writes), "errors": errors,
        "timings": timings, "cpu_per_watcher_minute": cpu / len(watchers) / (elapsed / 60),
    }  # fmt: skip


def make_watchers(stack: Stack, count: int) -> list[tuple[str, str]]:
    """`count` people, each signed in with a running job of their own."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from reports.models import Job

    watchers = []
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"watcher-{time.monotonic_ns()}-{n}") for n in range(count)
    )
    for user in users:
        client = Client()
        client.force_login(user)
        job = Job.objects.create(owner=user, kind="sales_summary", status="running", progress=1,
                                 step="Moving", started_at=timezone.now(), heartbeat_at=timezone.now(),
                                 params={"date_from": "2025-01-01", "date_to": "2025-01-31", "group_by": "region",
                                         "metric": "orders"})  # fmt: skip
        watchers.append((client.cookies["sessionid"].value, str(job.pk)))
    return watchers


def held(stack, server, mode: str, steps: list[int], seconds: float) -> tuple[int, dict, list[str]]:
    """The most watchers kept under the limit, what was measured there, and a log of every step."""
    best, at_best, log = 0, {}, []
    for count in steps:
        measured = run_watchers(stack, server, make_watchers(stack, count), mode, seconds, MOVES_EVERY)
        figure = measured["delivery"] if mode == "push" else measured["timings"]
        p95 = percentile(figure, 0.95) if figure else float("inf")
        lost = measured["missed"] if mode == "push" else 0
        log.append(
            f"{count}: p95 {p95:.0f} ms"
            + (f", {lost} of {measured['writes']} not delivered" if lost else "")
            + (f", {measured['errors']} errors" if measured["errors"] else "")
        )
        print(f"    {mode} {log[-1]}", flush=True)
        if p95 >= P95_LIMIT_MS or measured["errors"] or lost > 0.01 * measured["writes"]:
            break
        best, at_best = count, measured
    return best, at_best, log


def run(smoke: bool = False) -> list[Figure]:
    latency_watchers, latency_seconds = (2, 4.0) if smoke else (20, 30.0)
    steps, seconds = ([2], 3.0) if smoke else ([10, 25, 50, 100, 200, 400, 800, 1600], 12.0)
    with Stack() as stack:
        # Many people, one page each: the per-person limit is not what is measured.
        stack.env |= {"OFFLOAD_STREAMS_PER_USER": "100000", "OFFLOAD_STREAMS_PER_PROCESS": "100000"}
        # Each mode on a fresh server, so neither inherits the other's load.
        stack.start_web("uvicorn", workers=1)
        server = stack.processes[-1]
        watchers = make_watchers(stack, latency_watchers)
        poll = run_watchers(stack, server, watchers, "poll", latency_seconds, moves_every=LATENCY_MOVES_EVERY)
        poll_held, poll_at, poll_log = held(stack, server, "poll", steps, seconds)
        count = max(poll_held, steps[0])  # CPU per watcher is compared at the most polling held
        baseline = poll_at or run_watchers(stack, server, make_watchers(stack, count), "poll", seconds, MOVES_EVERY)
        stack.start_web("uvicorn", workers=1)
        server = stack.processes[-1]
        push = run_watchers(stack, server, watchers, "push", latency_seconds, moves_every=LATENCY_MOVES_EVERY)
        compare = run_watchers(stack, server, make_watchers(stack, count), "push", seconds, MOVES_EVERY)
        push_held, _, push_log = held(stack, server, "push", steps, seconds)
    what = (f"{latency_watchers} pages, each job moving every {LATENCY_MOVES_EVERY:.0f} s for {latency_seconds:.0f} s; "
            f"{push['missed']} of {push['writes']} writes not delivered by push, {poll['missed']} missed by polling "
            "(a change overtaken before the next poll)")  # fmt: skip
    return [
        Figure("9. Push", "write → fragment at the page, p50", statistics.median(push["delivery"]),
               statistics.median(poll["delivery"]), "ms", goal="report", note=what),
        Figure("9. Push", "write → fragment at the page, p95", percentile(push["delivery"], 0.95),
               percentile(poll["delivery"], 0.95), "ms", goal="report"),
        Figure("9. Push", f"watchers one process holds (p95 < {P95_LIMIT_MS} ms)", push_held, poll_held, "pages",
               ratio_as="ours/baseline" if poll_held else "", goal="≥ 5×",
               note=f"each its own person and job, moving every {MOVES_EVERY:.0f} s; steps of {seconds:.0f} s; "
                    f"push: {'; '.join(push_log)}; polling (1 s, ETag): {'; '.join(poll_log)}"
               ).check(lambda r: poll_held and r >= 5),
        Figure("9. Push", "server CPU per watcher per minute", 1000 * compare["cpu_per_watcher_minute"],
               1000 * baseline["cpu_per_watcher_minute"], "ms", goal="≤ 0.5×",
               note=f"both at {count} watchers (the most polling held, or the first step)").check(lambda r: r <= 0.5),
    ]  # fmt: skip
