"""One Redis connection per web process for all its streams: a single pub/sub subscription to
the channels of the people with a stream open here, read by one task that hands each event to
the streams of its channel, and a small pool for everything else a stream asks Redis.

So a process with a thousand open streams holds a handful of Redis connections, not a thousand,
and a stream opens without connecting anywhere.
"""

import asyncio
import json
import logging
from collections import defaultdict

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from reports.engine import events

logger = logging.getLogger(__name__)

# What a stream's queue receives when the subscription is lost: Redis went away.
LOST = {"lost": True}


class Subscriptions:
    """Belongs to one event loop (uvicorn runs one per process)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        # A Redis that hangs (frozen, partitioned) must fail a stream's call quickly, as one that
        # refuses does: the page then polls instead of waiting on an answer that never comes.
        self.redis = aioredis.Redis.from_url(
            events.redis_url(), socket_timeout=events.SOCKET_TIMEOUT, socket_connect_timeout=events.SOCKET_TIMEOUT
        )
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.queues: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self.reader: asyncio.Task | None = None
        self.lost = False

    async def join(self, channel: str) -> asyncio.Queue:
        """A queue of the events on `channel` from now on; raises RedisError if Redis is away."""
        queue: asyncio.Queue = asyncio.Queue()
        first = not self.queues[channel]
        self.queues[channel].add(queue)
        try:
            if first:
                await self.pubsub.subscribe(channel)
            if self.reader is None:
                self.reader = self.loop.create_task(self.read())
        except RedisError:
            await self.leave(channel, queue)
            raise
        return queue

    async def leave(self, channel: str, queue: asyncio.Queue) -> None:
        listeners = self.queues.get(channel)
        if listeners is None:
            return
        listeners.discard(queue)
        if not listeners:
            del self.queues[channel]
            if not self.lost:
                try:
                    await self.pubsub.unsubscribe(channel)
                except RedisError:
                    logger.debug("Could not unsubscribe from %s", channel, exc_info=True)

    async def read(self) -> None:
        try:
            while True:
                message = await self.pubsub.get_message(timeout=1.0)
                if message is None or message["type"] != "message":
                    continue
                try:
                    body = json.loads(message["data"])
                except (TypeError, ValueError):
                    continue
                for queue in self.queues.get(message["channel"].decode(), ()):
                    queue.put_nowait(body)
        except RedisError:
            logger.warning("Live updates lost Redis; pages poll until it is back", exc_info=True)
        except asyncio.CancelledError:
            raise
        finally:
            self.lost = True
            forget(self)
            for listeners in self.queues.values():
                for queue in listeners:
                    queue.put_nowait(LOST)
            await self.close()

    async def close(self) -> None:
        try:
            await self.pubsub.aclose()
            await self.redis.aclose()
        except Exception:
            logger.debug("Closing the streams' Redis connections failed", exc_info=True)


_current: Subscriptions | None = None


def here() -> Subscriptions:
    """This process's subscriptions, made on first use (again after Redis was lost)."""
    global _current
    loop = asyncio.get_running_loop()
    if _current is None or _current.loop is not loop or _current.lost:
        _current = Subscriptions(loop)
    return _current


def forget(subscriptions: Subscriptions) -> None:
    global _current
    if _current is subscriptions:
        _current = None
