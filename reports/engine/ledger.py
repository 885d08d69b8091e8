"""A job's ledger: what a kind records of each item of its work as it goes (a message sent, a
row written elsewhere), so an attempt that takes over after a worker died carries on where the
dead one stopped and never does an item twice.

An item is *begun* (written and committed) before its side effect, and *done* or *failed* after.
An item found begun but never ended was in flight when its worker died: whether its side effect
happened cannot be known from here, so it is not done again; it is marked *in doubt*, and the
kind tells the person which items those are. That is the strongest promise a side effect outside
the database allows (a mail server that accepted a message just before the worker died cannot be
asked whether it did): each item at most once, and the few that may have been missed, named.
"""

from django.db import transaction
from django.utils import timezone

from reports.engine import jobs
from reports.models import LedgerEntry

State = LedgerEntry.State

IN_DOUBT = (
    "The worker stopped while this item was under way, so whether it was done is unknown; "
    "it was not done again, so it is never done twice."
)


class Ledger:
    """`attempt`: the attempt writing (JobFiles.attempt). An attempt that was superseded (frozen,
    then replaced) stops at its next `begin` with JobNotRunning instead of doing an item again."""

    def __init__(self, job_id, attempt: int | None = None):
        self.job_id, self.attempt = job_id, attempt

    def take_over(self) -> dict[str, str]:
        """Every item recorded so far, by key, with its state: what a starting attempt skips.
        Items a dead attempt left begun are marked in doubt first."""
        rows = LedgerEntry.objects.filter(job_id=self.job_id)
        rows.filter(state=State.BEGUN).update(state=State.IN_DOUBT, detail=IN_DOUBT, updated_at=timezone.now())
        return dict(rows.values_list("key", "state"))

    def begin(self, key: str, position: int = 0) -> bool:
        """Record the item as begun, committed, before its side effect: True if this attempt may
        go ahead; False if the item is recorded already (by an attempt that took over meanwhile)."""
        with transaction.atomic():
            if not jobs.running(self.job_id, self.attempt).exists():
                raise jobs.JobNotRunning(self.job_id)
            _, created = LedgerEntry.objects.get_or_create(
                job_id=self.job_id, key=key,
                defaults={"state": State.BEGUN, "position": position, "updated_at": timezone.now()},
            )  # fmt: skip
        return created

    def done(self, key: str) -> None:
        self._end(key, State.DONE, "")

    def failed(self, key: str, detail: str, position: int = 0) -> None:
        """An item that could not be done (never one already done: that outcome stands)."""
        fields = {"state": State.FAILED, "detail": detail[:500], "updated_at": timezone.now()}
        if not LedgerEntry.objects.filter(job_id=self.job_id, key=key, state=State.BEGUN).update(**fields):
            LedgerEntry.objects.get_or_create(job_id=self.job_id, key=key, defaults={**fields, "position": position})

    def in_doubt(self, key: str, detail: str) -> None:
        """Its side effect may or may not have happened (the answer was lost): not done again."""
        self._end(key, State.IN_DOUBT, detail)

    def forget(self, key: str) -> None:
        """The side effect surely did not happen (it raised before it could): the item is to be done again."""
        LedgerEntry.objects.filter(job_id=self.job_id, key=key, state=State.BEGUN).delete()

    def _end(self, key: str, state: str, detail: str) -> None:
        LedgerEntry.objects.filter(job_id=self.job_id, key=key).update(
            state=state, detail=detail[:500], updated_at=timezone.now()
        )

    def counts(self) -> dict[str, int]:
        counted = {state: 0 for state in State.values}
        for state in LedgerEntry.objects.filter(job_id=self.job_id).values_list("state", flat=True):
            counted[state] += 1
        return counted

    def entries(self, *states: str) -> list[LedgerEntry]:
        return list(LedgerEntry.objects.filter(job_id=self.job_id, state__in=states).order_by("position"))
