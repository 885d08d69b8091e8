"""The demo shop's calendar: its orders run up to yesterday, so a report of "the last 7 days"
has data whenever it runs. OFFLOAD_DEMO_LAST_DAY pins the last day instead (tests and
screenshots do, so their figures never move)."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from reports.work import sales_query

# Yesterday in the world's latest time zone: a period that ends yesterday is then complete
# wherever its schedule runs.
LATEST_ZONE = ZoneInfo("Etc/GMT-14")


def last_day() -> date:
    if settings.OFFLOAD_DEMO_LAST_DAY:
        return date.fromisoformat(settings.OFFLOAD_DEMO_LAST_DAY)
    return timezone.localdate(timezone=LATEST_ZONE) - timedelta(days=1)


def today(day: date | None = None) -> date:
    """The day a relative period counts back from, for a job made on `day` (today in the site's
    time zone by default): never past the shop's own calendar, so a pinned one stays pinned."""
    return min(day or timezone.localdate(), last_day() + timedelta(days=1))


def day_range() -> tuple[date, date]:
    return sales_query.day_range(last_day())
