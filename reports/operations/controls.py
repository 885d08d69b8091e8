"""The Operations controls, through Celery's own remote control: pause and resume a queue, grow
and shrink a worker's pool.

A pause is remembered on Redis, beside the messages it holds back: a worker that starts while a
queue is paused leaves it out of the queues it consumes (Celery's own `-X`, applied at start), so
a restart or a new machine does not quietly resume it. Only the job queues can be paused: the
default queue carries beat's housekeeping (the rescue check among it), which must keep running.
"""

import logging
from contextlib import suppress

import redis
from django.conf import settings

from project import celery_app
from reports.engine import leases

logger = logging.getLogger(__name__)

PAUSED = "offload:paused-queues"
PAUSABLE = [name for name in settings.CELERY_TASK_QUEUES if name != settings.CELERY_TASK_DEFAULT_QUEUE]
REPLY_TIMEOUT = 1.0


class ControlError(Exception):
    """Said to the operator as it is."""


def client() -> redis.Redis:
    """The broker's Redis with short timeouts: the one the leases use."""
    return leases.client()


def holders_key(queue: str) -> str:
    """The workers that consumed `queue` when it was paused (and those that started since and
    left it out): the ones Resume gives it back to, and no other."""
    return f"{PAUSED}:{queue}"


def paused_queues() -> set[str] | None:
    """The paused queues; None if Redis cannot be reached."""
    try:
        return {name.decode() for name in client().smembers(PAUSED)}
    except redis.RedisError:
        logger.warning("Could not read the paused queues", exc_info=True)
        return None


def answered(replies) -> list[str]:
    """The workers that confirmed an order: Celery replies [{worker: {"ok": ...}}, ...]."""
    return sorted(name for reply in replies or [] for name, body in reply.items() if "ok" in body)


def consuming(queue: str) -> list[str]:
    """The workers that consume `queue` now (a worker started with -Q images does not consume reports)."""
    active = celery_app.control.inspect(timeout=REPLY_TIMEOUT).active_queues() or {}
    return sorted(name for name, queues in active.items() if any(q["name"] == queue for q in queues))


def pause(queue: str) -> list[str]:
    """Stop the workers consuming `queue` (jobs already running finish); those that confirmed."""
    if queue not in PAUSABLE:
        raise ControlError(f"There is no job queue called {queue!r}.")
    workers = consuming(queue)
    try:
        with client().pipeline() as pipe:
            pipe.sadd(PAUSED, queue)
            if workers:
                pipe.sadd(holders_key(queue), *workers)
            pipe.execute()
    except redis.RedisError as error:
        raise ControlError("Redis cannot be reached, so the queue could not be paused.") from error
    if not workers:
        return []
    return answered(celery_app.control.cancel_consumer(queue, destination=workers, reply=True, timeout=REPLY_TIMEOUT))


def resume(queue: str) -> list[str]:
    """Give `queue` back to the workers that had it; those that confirmed."""
    if queue not in PAUSABLE:
        raise ControlError(f"There is no job queue called {queue!r}.")
    try:
        with client().pipeline() as pipe:
            pipe.srem(PAUSED, queue)
            pipe.smembers(holders_key(queue))
            pipe.delete(holders_key(queue))
            _, holders, _ = pipe.execute()
    except redis.RedisError as error:
        raise ControlError("Redis cannot be reached, so the queue could not be resumed.") from error
    workers = sorted(name.decode() for name in holders)
    if not workers:
        return []
    return answered(celery_app.control.add_consumer(queue, destination=workers, reply=True, timeout=REPLY_TIMEOUT))


def resize_pool(worker: str, by: int) -> bool:
    """Add (by > 0) or remove pool processes of one worker; whether it confirmed."""
    order = celery_app.control.pool_grow if by > 0 else celery_app.control.pool_shrink
    return bool(answered(order(abs(by), destination=[worker], reply=True, timeout=REPLY_TIMEOUT)))


def leave_out_paused_queues(instance) -> None:
    """A worker starting while a queue is paused does not consume it (until it is resumed).
    Runs on Celery's celeryd_after_setup (project/celery.py), before the worker consumes anything."""
    paused = paused_queues() or set()
    consumed = set(instance.app.amqp.queues.consume_from or instance.app.amqp.queues)
    left_out = paused & consumed
    if left_out:
        instance.app.amqp.queues.deselect(left_out)
        with suppress(redis.RedisError):  # if Redis is away now, the worker could not start anyway
            for queue in left_out:
                client().sadd(holders_key(queue), instance.hostname)
        logger.warning("Queues %s are paused: this worker leaves them out until they are resumed", sorted(left_out))
