"""Fixtures for every test: a real Redis as the broker, throwaway storage, users and clients."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from project import celery_app
from project.embedded_redis import EmbeddedRedis


@pytest.fixture(scope="session", autouse=True)
def broker(tmp_path_factory):
    """A private Redis server for the whole run; the app publishes to it, workers consume from it."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    celery_app.conf.broker_url = server.url
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def isolated_files(tmp_path_factory):
    """Uploads, outputs and the demo data go to a temporary folder, never var/."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    settings.OFFLOAD_DEMO_DATA_DIR = tmp_path_factory.mktemp("demo-data")


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("ada", password="correct horse battery")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("grace", password="another long password")


@pytest.fixture
def owner_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def other_client(client, other_user):
    client.force_login(other_user)
    return client
