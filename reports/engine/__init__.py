"""The engine: a job's life (jobs), its leases and ledger, its files, events and notices, and
the schedules that make jobs. It stands at the bottom: it knows no kind by name, imports nothing
from the live layer, the work or Operations, and sends its tasks by name (dispatch)."""
