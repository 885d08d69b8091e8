"""Offload's Django project: settings, URLs, the Celery app and the server entry points."""

import os

# polars allocates with jemalloc, and by default keeps the pages it frees resident for about a
# second in case they are wanted again (dirty_decay_ms:500, muzzy_decay_ms:1000), so a worker's
# peak on a big CSV grows by much of what it freed along the way. A tenth of a second keeps the
# peak near what handing pages back at once gives (a 5 GB file's rise 825 vs 807 MiB) at a
# fraction of its cost (at once, a 1M-row profile takes 1.16 s instead of 0.84): `make bench`,
# 5 and 13; polars issues #18088, #23128 discuss the trade. polars reads this when
# it is imported and appends it to its own defaults, so it is set here, before anything imports
# polars; an operator's own setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:100,muzzy_decay_ms:0")

# Load the Celery app whenever Django starts, so @shared_task binds to it (Celery's Django guide).
from .celery import app as celery_app

__all__ = ("celery_app",)
