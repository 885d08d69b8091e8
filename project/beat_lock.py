"""One celery beat at a time: a second beat would send every scheduled job twice.

A beat takes a Redis lock on the broker as it starts and refreshes it while it runs; a second
beat finds the lock held, says so loudly and exits. A beat that stops cleanly releases the lock;
one that dies leaves it to expire after LOCK_SECONDS, and then a new beat can start.
"""

import atexit
import logging
import os
import signal
import socket
import threading
from contextlib import suppress

import redis
from celery.signals import beat_init
from redis.exceptions import LockError

logger = logging.getLogger(__name__)

LOCK_NAME = "offload:celery-beat"
LOCK_SECONDS = 30


def take_lock(url: str) -> redis.lock.Lock | None:
    client = redis.Redis.from_url(url)
    lock = client.lock(LOCK_NAME, timeout=LOCK_SECONDS, thread_local=False)
    if not lock.acquire(blocking=False, token=f"{socket.gethostname()}:{os.getpid()}"):
        return None
    return lock


def keep_lock(lock: redis.lock.Lock, stop: threading.Event) -> None:
    while not stop.wait(LOCK_SECONDS / 3):
        try:
            lock.reacquire()
        except LockError:
            logger.critical("This beat lost its lock (another beat may be running now); stopping it.")
            os.kill(os.getpid(), signal.SIGTERM)
            return
        except redis.RedisError:
            logger.warning("Could not refresh the beat lock; Redis unreachable. Trying again.")


@beat_init.connect
def refuse_a_second_beat(sender=None, **kwargs) -> None:
    url = sender.app.conf.broker_url if sender else None
    if not url or not url.startswith(("redis://", "rediss://")):
        return
    lock = take_lock(url)
    if lock is None:
        holder = redis.Redis.from_url(url).get(LOCK_NAME)
        message = (
            f"Another celery beat is already running ({holder.decode() if holder else 'unknown'}). "
            "Two beats would run every schedule twice, so this one exits. Run exactly one beat."
        )
        logger.critical(message)
        raise SystemExit(message)
    stop = threading.Event()
    threading.Thread(target=keep_lock, args=(lock, stop), daemon=True, name="beat-lock").start()
    atexit.register(release, lock, stop)
    logger.info("Took the beat lock %s", LOCK_NAME)


def release(lock: redis.lock.Lock, stop: threading.Event) -> None:
    stop.set()
    # Already expired or taken over, or Redis is gone: then the lock expires on its own.
    with suppress(LockError, redis.RedisError):
        lock.release()
