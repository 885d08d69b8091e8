"""The Operations audit log: every action written with who, what, when and how many jobs."""

import logging

from reports.models import AuditEntry

logger = logging.getLogger(__name__)

ENTRIES_SHOWN = 20


def record(user, action: str, detail: str = "", jobs: int = 0) -> AuditEntry:
    logger.info("Operations: %s %s (%s) jobs=%s", user.get_username(), action, detail, jobs)
    return AuditEntry.objects.create(
        actor=user, actor_name=user.get_username(), action=action[:100], detail=detail[:500], jobs=jobs
    )


def latest(limit: int = ENTRIES_SHOWN) -> list[AuditEntry]:
    return list(AuditEntry.objects.order_by("-created_at")[:limit])
