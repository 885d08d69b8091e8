"""Events on Redis pub/sub saying a job changed: what lets an open page be pushed its new fragment.

The Job row stays the source of truth: an event carries only which job changed (and whether it
ended), on a channel per owner, so one stream serves a person's job page and the notices of
their other jobs. An event that is lost (Redis away for a moment) costs a late update, never a
wrong one: streams re-read the row on their heartbeat, and pages without a stream poll.
"""

import hashlib
import json
import logging
import time

import redis
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# A publish must never hold up a progress write or a click: a dead Redis is given up on quickly.
SOCKET_TIMEOUT = 1.0
# After a failed publish, do not try again (or log again) for this long.
QUIET_AFTER_FAILURE = 5.0

_client: redis.Redis | None = None
_quiet_until = 0.0
# Job → owner, for the worker, which knows a job only by its id. Owners never change.
_owners: dict[str, int] = {}


def redis_url() -> str:
    if settings.OFFLOAD_EVENTS_REDIS_URL:
        return settings.OFFLOAD_EVENTS_REDIS_URL
    from project import celery_app

    return celery_app.conf.broker_url


def channel(user_id) -> str:
    return f"offload:user:{user_id}"


def session_tag(session_key: str) -> str:
    """Names a session in an event without putting its key on the wire."""
    return hashlib.sha256(f"offload-stream:{session_key}".encode()).hexdigest()[:24]


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            redis_url(), socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
        )
    return _client


def owner_of(job_id, known: int | None = None) -> int | None:
    """The job's owner: `known` if the caller has it (remembered for the job's later events),
    else remembered or read once."""
    key = str(job_id)
    if key not in _owners:
        from reports.models import Job

        owner = known if known is not None else Job.objects.filter(pk=job_id).values_list("owner_id", flat=True).first()
        if owner is None:
            return None
        if len(_owners) > 10_000:  # a long-lived worker: forget the oldest half
            for old in list(_owners)[:5_000]:
                del _owners[old]
        _owners[key] = owner
    return _owners[key]


def job_changed(job_id, owner_id: int | None = None, *, ended: bool = False) -> None:
    """Tell open streams that a job's row changed, once the change is committed. `ended`: it
    has reached its end (or is gone), so the notices on its owner's other pages may change too."""
    transaction.on_commit(lambda: publish_job_changed(job_id, owner_id, ended=ended))


def publish_job_changed(job_id, owner_id: int | None = None, *, ended: bool = False) -> None:
    owner_id = owner_of(job_id, owner_id)
    if owner_id is not None:
        publish(owner_id, {"job": str(job_id), **({"ended": True} if ended else {})})


def session_ended(user_id, session_key: str) -> None:
    """Close the streams of a session that signed out."""
    publish(user_id, {"session": session_tag(session_key)})


def publish(user_id, message: dict) -> None:
    global _quiet_until
    if not settings.OFFLOAD_STREAMS or time.monotonic() < _quiet_until:
        return
    try:
        client().publish(channel(user_id), json.dumps(message))
    except redis.RedisError:
        _quiet_until = time.monotonic() + QUIET_AFTER_FAILURE
        logger.warning("Could not publish a job event; open pages will catch up on their heartbeat", exc_info=True)


def on_sign_out(sender, request, user, **kwargs) -> None:
    """user_logged_out: the session's streams end now rather than at their next heartbeat."""
    if user is not None and request.session.session_key:
        session_ended(user.pk, request.session.session_key)


def on_job_deleted(sender, instance, **kwargs) -> None:
    """post_delete, however the job went (its owner, retention, the admin): its streams end."""
    job_changed(instance.pk, instance.owner_id, ended=True)
