"""Reachability checks of the database and the broker, and the watcher's last reported health."""
import json
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from django.conf import settings

WATCHER_HEALTH_KEY = "maracker:watcher:health"


def _redis():
    # No retries (redis-py retries 3 times with backoff by default): an outage answers 503 within a second.
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1,
                                retry=Retry(NoBackoff(), 0))


def database_check(connection):
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    except Exception as exc:  # any driver error means "not ready"
        return {"ok": False, "error": exc.__class__.__name__}


def broker_check():
    started = time.monotonic()
    try:
        client = _redis()
        client.ping()
        return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    except Exception as exc:  # any client error means "not ready"
        return {"ok": False, "error": exc.__class__.__name__}


def watcher_health():
    """What the watcher last reported about itself (it writes this key with a TTL)."""
    try:
        raw = _redis().get(WATCHER_HEALTH_KEY)
    except Exception as exc:  # the broker check already reports the outage
        return {"known": False, "error": exc.__class__.__name__}
    if not raw:
        return {"known": False}
    data = json.loads(raw)
    data["known"] = True
    return data
