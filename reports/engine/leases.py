"""A lease per running attempt of a job: how a dead worker's job is noticed within seconds.

While an attempt runs, a key on the broker's Redis names it (`attempt host pid`) and lives
OFFLOAD_LEASE_SECONDS; a thread in the worker process takes it, then renews it, every third of
that, whatever the job's code is doing (a long step with no progress included). A worker that dies (SIGKILL, an
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

# Renew a lease only if it is still this attempt's, and take it if it is gone (Redis restarted
# empty, or not taken yet) or held by an older attempt. So a frozen attempt that wakes after it
# was rescued can never keep the lease from the attempt that replaced it: a newer attempt wins.
RENEW = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if holder and (tonumber(string.match(holder, '^(%d+) ')) or 0) >= tonumber(ARGV[3]) then return 0 end
return redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) and 1 or 0
"""
# Release it only if it is still this attempt's.
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


def this_process() -> str:
    """`host pid`: where an attempt runs, as its Job row records it (Job.worker)."""
    return f"{socket.gethostname()} {os.getpid()}"


def is_dead_process_here(worker: str) -> bool:
    """Job.worker names a process on this machine that is gone."""
    host, _, pid = worker.partition(" ")
    return pid.isdigit() and Holder(0, host, int(pid)).is_dead_process_here()


def milliseconds() -> int:
    return int(settings.OFFLOAD_LEASE_SECONDS * 1000)


def renew(name, holder: Holder) -> bool:
    """Take or renew the lease for `holder`; False if a newer attempt (or this attempt's twin) holds it."""
    return bool(client().eval(RENEW, 1, key(name), str(holder), milliseconds(), holder.attempt))


class Renewer(threading.Thread):
    def __init__(self, name, holder: Holder):
        super().__init__(name=f"lease-{name}", daemon=True)
        self.lease, self.holder = name, holder
        self.stopped = threading.Event()
        self.taken = False

    def run(self) -> None:
        while not self.stopped.wait(settings.OFFLOAD_LEASE_SECONDS / 3):
            try:
                if not renew(self.lease, self.holder):
                    logger.warning("Lease %s: attempt %s's was taken over", self.lease, self.holder.attempt)
                    return
                self.taken = True
            except redis.RedisError:
                # Redis away for a moment: keep trying; a lease that lapses meanwhile is rescued,
                # and this attempt then stops at its next write (its attempt number is stale).
                logger.warning("Lease %s: could not renew it", self.lease, exc_info=True)


@contextmanager
def held(name, attempt: int):
    """Hold the lease `name` (a job's id, or image(item_id)) for `attempt` while the block runs,
    renewed by a thread.

    The lease is first taken a third of its length in, not at once: the rescue check and start()
    both leave an attempt alone for a lease's length after its last progress write, so a lease
    matters only to a job still running by then, and most jobs end sooner without a Redis call.
    """
    holder = Holder(attempt, socket.gethostname(), os.getpid())
    renewer = Renewer(name, holder)
    renewer.start()
    try:
        yield holder
    finally:
        renewer.stopped.set()
        if renewer.taken:
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
