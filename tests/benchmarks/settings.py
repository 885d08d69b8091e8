"""The project's settings, plus the baseline views the benchmarks compare against (urls.py)."""

from project.settings import *  # noqa: F403

ROOT_URLCONF = "tests.benchmarks.urls"
