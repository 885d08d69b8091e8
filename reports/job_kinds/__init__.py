"""Offload's own job kinds, one module each, declared through reports/kinds.py as any team's
kind is (docs/job-kinds.md). Every module here is imported at start-up (kinds.discover)."""
