"""Test-wide fixtures: the plugins that start real processes, and a clean Redis database per session."""
import pytest
import redis
from django.conf import settings

pytest_plugins = [
    "tests.fixtures.processes",
    # The session worker (tests.fixtures.celery_worker) runs one-off jobs on this simulator.
    "tests.fixtures.metronome_sim",
    "tests.fixtures.auth",
]


@pytest.fixture(scope="session", autouse=True)
def _clean_test_redis():
    """The tests own the Redis database named by REDIS_URL (15 by default): start it empty."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield
    client.flushdb()
