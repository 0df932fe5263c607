"""Test-wide fixtures: the plugins that start real processes, and a clean Redis database per session."""
import pytest
import redis
from django.conf import settings

# Every fixture module, registered once for the whole suite (a session fixture defined twice would start its
# process twice).
pytest_plugins = [
    "tests.fixtures.processes",
    "tests.fixtures.auth",
    "tests.fixtures.catalog",
    "tests.fixtures.marathon_sim",
    "tests.fixtures.metronome_sim",
    "tests.fixtures.celery_worker",
    "tests.fixtures.watcher",
    "tests.fixtures.registry",
    "tests.fixtures.webhook_receiver",
    "tests.fixtures.redis_server",
]


@pytest.fixture(scope="session", autouse=True)
def _clean_test_redis():
    """The tests own the Redis database named by REDIS_URL (15 by default): start it empty."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield
    client.flushdb()
