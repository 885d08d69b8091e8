"""The test run's settings: the project's, with DEBUG on unless the environment says otherwise,
as `make run` has it (the project's default is off, for deployments). Set in the environment, so
the servers and workers the tests start inherit it."""

import os

os.environ.setdefault("DEBUG", "True")

from project.settings import *  # noqa: E402, F403
