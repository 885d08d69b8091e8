"""Fixtures of the integration tests that run processes on a Redis of their own."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from project.embedded_redis import EmbeddedRedis
from tests.conftest import start_asgi_server, stop_process
from tests.support import signed_in_client

PASSWORD = "correct horse battery"


@pytest.fixture
def own_redis(tmp_path):
    """A Redis for this test alone, without persistence (a module that needs one overrides this)."""
    server = EmbeddedRedis(tmp_path / "redis", persist=False).start()
    yield server
    server.stop()


@pytest.fixture
def operator(own_redis, tmp_path):
    """An Operators member signed in to a web server (uvicorn) on this test's Redis."""
    user = get_user_model().objects.create_user("olga", password=PASSWORD)
    user.groups.add(Group.objects.get(name="Operators"))
    server = start_asgi_server(own_redis.url, tmp_path / "uvicorn.log")
    yield signed_in_client(server.url, "olga", PASSWORD)
    stop_process(server)
