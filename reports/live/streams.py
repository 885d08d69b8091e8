"""Server-sent event streams: on connect the current fragment, then the re-rendered fragment
whenever the owner's "job changed" events (reports/engine/events.py) say it may have changed, a
heartbeat while idle, and the final fragment before the stream ends.

Two fragments are streamed: a job page's job fragment (/jobs/<id>/events/), and, for pages
without one, the person's updates (/events/): the My jobs rows still running and the notices
of jobs that have ended, both as out-of-band swaps.

A stream holds no database connection while it waits: each render reads in a pool thread and
closes what it opened. Nor a Redis connection of its own: the process's streams share one
subscription (reports/live/subscriptions.py). Open streams are counted per person (in Redis, so
across web processes) and per process; past either limit the page simply keeps polling.
"""

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import connections
from django.template.loader import render_to_string
from redis.exceptions import RedisError

from reports.engine import events, notifications
from reports.live import subscriptions
from reports.live.fragments import job_context, rows_context, with_notices
from reports.models import Job

logger = logging.getLogger(__name__)

# Streams open in this process (one event loop per process: no lock needed).
open_here = 0


@dataclass
class Slot:
    """A place among the person's open streams, held until the stream ends."""

    key: str
    member: str
    released: bool = False


def user_key(user_id) -> str:
    return f"offload:streams:{user_id}"


async def take_slot(redis: aioredis.Redis, user_id) -> Slot | None:
    """A place for one more stream, or None when the person or this process has no room.

    Each entry in the person's sorted set expires two heartbeats after its stream last beat,
    so the places of streams lost with a killed process come back by themselves.
    """
    global open_here
    if open_here >= settings.OFFLOAD_STREAMS_PER_PROCESS:
        return None
    slot = Slot(user_key(user_id), secrets.token_hex(8))
    now = time.time()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(slot.key, "-inf", now)
        pipe.zadd(slot.key, {slot.member: now + 2 * settings.OFFLOAD_STREAM_HEARTBEAT})
        pipe.zcard(slot.key)
        pipe.expire(slot.key, int(4 * settings.OFFLOAD_STREAM_HEARTBEAT) + 1)
        _, _, count, _ = await pipe.execute()
    if count > settings.OFFLOAD_STREAMS_PER_USER:
        await redis.zrem(slot.key, slot.member)
        return None
    open_here += 1
    return slot


async def keep_slot(redis: aioredis.Redis, slot: Slot) -> None:
    await redis.zadd(slot.key, {slot.member: time.time() + 2 * settings.OFFLOAD_STREAM_HEARTBEAT}, xx=True)
    await redis.expire(slot.key, int(4 * settings.OFFLOAD_STREAM_HEARTBEAT) + 1)


async def release_slot(redis: aioredis.Redis, slot: Slot) -> None:
    global open_here
    if slot.released:
        return
    slot.released = True
    open_here -= 1
    try:
        await redis.zrem(slot.key, slot.member)
    except Exception:  # expires by itself
        logger.warning("Could not release a stream's place", exc_info=True)


def sse(data: str = "", event: str = "") -> bytes:
    """One server-sent event; every line of the data gets its own `data:` field. A fragment goes
    unnamed (a "message"): htmx 4 swaps each unnamed message into the element that connected,
    htmx 2 each one its `sse-swap="message"` names. Only `end` is named."""
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return (f"event: {event}\n" if event else "").encode() + f"{lines}\n".encode()


HEARTBEAT = b": heartbeat\n\n"
# How soon a browser reconnects after a stream drops (milliseconds); the page polls meanwhile.
RECONNECT = b"retry: 2000\n\n"


@dataclass(frozen=True)
class Render:
    """A pushed fragment. It holds no CSRF token (form_token leaves it out of every fragment,
    pushed or polled: htmx sends the page's token as a header), so the same state renders the
    same HTML and an unchanged fragment is never pushed twice."""

    html: str
    final: bool


def render_job(request, user, job_id) -> Render:
    """The job's fragment as a stream pushes it; a note and the end once the job is deleted."""
    try:
        job = Job.objects.for_user(user).filter(pk=job_id).first()
        if job is None:
            return Render(render_to_string("reports/job_detail.html#job-gone", {"job_id": job_id}), final=True)
        notifications.seen(job)  # pushed to where its owner is looking: once it has ended, no notice elsewhere
        context = with_notices(user, job_context(job, pushed=True, ended_here=True))
        html = render_to_string("reports/job_detail.html#job-status", context, request)
        return Render(html, final=not job.is_active)
    finally:
        connections.close_all()  # this pool thread's own connection: nothing held while waiting


def render_updates(request, user, row_ids: list[str]) -> Render:
    """What a page without a job stream would poll for: the My jobs rows of `row_ids` (when
    given) with the notices, or the notices alone. Final once there is nothing left to watch."""
    try:
        if row_ids:
            context = rows_context(user, row_ids)
            html = render_to_string(
                "reports/job_list.html#active-rows", with_notices(user, {**context, "pushed": True}), request
            )
            return Render(html, final=not context["active_ids"])
        context = {**notifications.updates(user, page_polls=False), "oob": True, "shown": True, "pushed": True}
        return Render(render_to_string("reports/notices.html", context, request), final=not context["poll"])
    finally:
        connections.close_all()


def session_alive(session: SessionBase) -> bool:
    try:
        return session.session_key is not None and session.exists(session.session_key)
    finally:
        connections.close_all()


in_pool = sync_to_async(thread_sensitive=False)


async def stream(
    request, user, render: Callable[[], Render], wants: Callable[[dict], bool], slot: Slot
) -> AsyncIterator[bytes]:
    """The body of an event stream: `render()` (called in a pool thread) pushed each time it
    changes, re-rendered on the owner's events that `wants` picks (and on every
    heartbeat). Ends with an `end` event (the page then stops listening) once a render is final,
    or when the session has signed out."""
    # The request's own thread holds a connection from the session and ownership checks.
    await sync_to_async(connections.close_all)()
    session = events.session_tag(request.session.session_key or "")
    closes_at = time.monotonic() + settings.OFFLOAD_STREAM_MAX_SECONDS
    shared = subscriptions.here()
    channel = events.channel(user.pk)
    queue = None
    try:
        # Subscribed before the first render, so no change can slip between the two.
        queue = await shared.join(channel)
        yield RECONNECT
        last_html = None
        while True:
            fragment = await in_pool(render)()
            if fragment.html != last_html:
                yield sse(fragment.html)
                last_html = fragment.html
            if fragment.final:
                yield sse(event="end")
                return
            if time.monotonic() >= closes_at:
                return  # no `end`: the browser reconnects to a fresh stream
            outcome = await next_change(queue, wants, session, closes_at)
            if outcome == "lost":
                return  # no `end`: the page polls, and the browser tries again later
            if outcome == "signed out":
                yield sse(event="end")
                return
            if outcome == "idle":
                yield HEARTBEAT
                if not await in_pool(session_alive)(request.session):
                    yield sse(event="end")
                    return
                await keep_slot(shared.redis, slot)
    except RedisError:
        # Redis went away: end without `end`, so the page polls and the browser tries again later.
        logger.warning("A stream lost Redis; its page polls until it is back", exc_info=True)
    finally:
        if queue is not None:
            await shared.leave(channel, queue)
        await release_slot(shared.redis, slot)


async def next_change(queue: asyncio.Queue, wants: Callable[[dict], bool], session: str, closes_at: float) -> str:
    """Wait for an event this stream wants: "changed", "signed out", "lost" (Redis went away),
    or "idle" after a heartbeat's wait (or when the stream is due to close). Events that came
    in a burst are taken together: one render shows them all."""
    deadline = min(time.monotonic() + settings.OFFLOAD_STREAM_HEARTBEAT, closes_at)
    outcome = "idle"
    while True:
        if queue.empty():
            if outcome != "idle" or (left := deadline - time.monotonic()) <= 0:
                return outcome
            try:
                body = await asyncio.wait_for(queue.get(), timeout=left)
            except TimeoutError:
                return outcome
        else:
            body = queue.get_nowait()
        if body is subscriptions.LOST:
            return "lost"
        if body.get("session") == session:
            return "signed out"
        if "job" in body and wants(body):
            outcome = "changed"
