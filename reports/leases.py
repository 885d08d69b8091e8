"""A lease per running attempt of a job: how a dead worker's job is noticed within seconds.

While an attempt runs, a key on the broker's Redis names it (`attempt host pid`) and lives
OFFLOAD_LEASE_SECONDS; a thread in the worker process renews it every third of that, whatever
the job's code is doing (a long step with no progress included). A worker that dies (SIGKILL, an
out-of-memory kill, a machine that vanishes) stops renewing, the key expires, and the rescue
check on beat (jobs.rescue_orphans) hands the job to the queue again as its next attempt.

An image batch's images are leased one by one the same way (`image(item_id)` names the lease),
since each image is its own task and a dead worker takes only its own images down with it.

The key lives where the job's messages live: if Redis loses its data, the leases go with the
messages, and the rescue check republishes those jobs too. The Job row stays the source of truth.
"""

import logging
import os
import socket
import threading
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# Renew or release a lease only if it is still this attempt's: a frozen attempt that wakes up
# after it was rescued must not take the lease back from the attempt that replaced it. A lease
# that vanished (Redis restarted empty) is taken again, so a live job is not rescued for nothing.
RENEW = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if not holder then return redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) and 1 or 0 end
return 0
"""
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

_client: redis.Redis | None = None


def client() -> redis.Redis:
    global _client
    if _client is None:
        from project import celery_app

        # A Redis that hangs must not hold a renewal (or the rescue check) for long.
        _client = redis.Redis.from_url(celery_app.conf.broker_url, socket_timeout=2, socket_connect_timeout=2)
    return _client


def key(name) -> str:
    """`name`: a job's id, or image(item_id) for one image of a batch."""
    return f"offload:lease:{name}"


def image(item_id) -> str:
    return f"image-{item_id}"


@dataclass(frozen=True)
class Holder:
    attempt: int
    host: str
    pid: int

    def __str__(self) -> str:
        return f"{self.attempt} {self.host} {self.pid}"

    @classmethod
    def parse(cls, value: bytes | None) -> "Holder | None":
        try:
            attempt, host, pid = value.decode().split(" ")
            return cls(int(attempt), host, int(pid))
        except (AttributeError, ValueError):
            return None

    def is_dead_process_here(self) -> bool:
        """On this machine, and its process is gone (a pool process killed under its worker)."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def milliseconds() -> int:
    return int(settings.OFFLOAD_LEASE_SECONDS * 1000)


class Renewer(threading.Thread):
    def __init__(self, name, holder: Holder):
        super().__init__(name=f"lease-{name}", daemon=True)
        self.lease, self.holder = name, holder
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(settings.OFFLOAD_LEASE_SECONDS / 3):
            try:
                if not client().eval(RENEW, 1, key(self.lease), str(self.holder), milliseconds()):
                    logger.warning("Lease %s: attempt %s's was taken over", self.lease, self.holder.attempt)
                    return
            except redis.RedisError:
                # Redis away for a moment: keep trying; a lease that lapses meanwhile is rescued,
                # and this attempt then stops at its next write (its attempt number is stale).
                logger.warning("Lease %s: could not renew it", self.lease, exc_info=True)


@contextmanager
def held(name, attempt: int):
    """Hold the lease `name` (a job's id, or image(item_id)) for `attempt` while the block runs,
    renewed by a thread."""
    holder = Holder(attempt, socket.gethostname(), os.getpid())
    try:
        client().set(key(name), str(holder), px=milliseconds())
    except redis.RedisError:
        logger.warning("Lease %s: could not take it; attempt %s runs without one", name, attempt, exc_info=True)
    renewer = Renewer(name, holder)
    renewer.start()
    try:
        yield holder
    finally:
        renewer.stopped.set()
        with suppress(redis.RedisError):  # it expires by itself
            client().eval(RELEASE, 1, key(name), str(holder))


def holders(names: list) -> dict[str, Holder | None]:
    """The current holder of each lease (None: expired or never taken), in one round trip."""
    if not names:
        return {}
    values = client().mget([key(name) for name in names])
    return {str(name): Holder.parse(value) for name, value in zip(names, values, strict=True)}


def holder(name) -> Holder | None:
    return holders([name])[str(name)]


# Set by the rescue check and never expiring: when it is missing, Redis has lost its data.
MARKER = "offload:broker-marker"


def redis_lost_its_data() -> bool:
    """True the first time this is asked after Redis lost (or never had) the marker; sets it."""
    return bool(client().set(MARKER, "1", nx=True))
