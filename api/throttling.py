"""Throttling of job creation: JOB_CREATE_RATE per API token (or per user when signed in by session)."""
import logging
import threading

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from shared.models import ApiToken

logger = logging.getLogger(__name__)
_client = None


def _redis():
    """The counters' Redis connection pool, one per process, with short timeouts."""
    global _client
    if _client is None:
        # No retries: redis-py's default (3 with backoff) held each job request about 4 s during an outage.
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1,
                                       retry=Retry(NoBackoff(), 0))
    return _client


# INCRBY, and EXPIRE when the window's key is new, as one atomic command (cheaper than a two-command pipeline).
_COUNT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
_script = None

# Requests this process may still let through in a window without asking Redis: {key: [window, remaining]}.
_leases = {}
_leases_lock = threading.Lock()
LEASE_MAX = 32  # counts reserved at once, at most
LEASE_SHARE = 100  # and at most this fraction of the rate (1/100): 1 (no lease) below 200 per window
LEASES_KEPT = 4096  # above this many keys, leases of past windows are dropped


def _count_script():
    global _script
    client = _redis()
    if _script is None or _script.registered_client is not client:
        _script = client.register_script(_COUNT)
    return _script


class JobCreateThrottle(SimpleRateThrottle):
    """A fixed-window counter in Redis; its Throttled error becomes a 429 problem with Retry-After.

    DRF's own rate throttles keep a log of every request's time in the window and rewrite it on each request:
    O(rate) work per request. Here one atomic INCR per request counts the current window instead (a window
    boundary may let up to twice the rate through in a short stretch, the usual fixed-window trade-off).

    The rate is read on every request (not once at import) so that a changed setting takes effect. When the
    cache is unreachable, requests are let through: the job request is never lost for want of a counter.

    With a high rate (machine clients), a process reserves counts in small batches (`lease_size`: at most 1% of
    the rate, at most 32) and lets that many requests through without a round trip each. The counter in Redis
    always holds every reservation, so more than the rate is never let through; a process's unused reservations
    can refuse another process's requests a little early (at most a batch less than the rate per other
    process). With the default 120/min the batch is 1: every request is counted in Redis, as before.
    """

    scope = "job_create"

    def get_rate(self):
        return settings.JOB_CREATE_RATE

    def __init__(self):
        # SimpleRateThrottle reads DEFAULT_THROTTLE_RATES in __init__; the rate comes from get_rate instead.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        if isinstance(token, ApiToken):
            ident = f"token:{token.token_key}:{token.pk[:16]}"
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"

    def lease_size(self):
        return max(1, min(LEASE_MAX, self.num_requests // LEASE_SHARE))

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.retry_after = (window + 1) * self.duration - now
        with _leases_lock:
            lease = _leases.get(key)
            if lease is not None and lease[0] == window and lease[1] > 0:
                lease[1] -= 1
                return True
        batch = self.lease_size()
        try:
            # One command: reserve `batch` counts (this request's among them) and make sure the key expires.
            count = _count_script()(keys=[f"maracker:{key}:{window}"], args=[int(self.duration) + 1, batch])
        except Exception as exc:  # the cache (Redis) is down: do not refuse work because of it
            logger.warning("job creation throttle skipped: cache unavailable (%s)", exc.__class__.__name__)
            return True
        granted = max(0, min(batch, self.num_requests - (count - batch)))
        if granted == 0:
            return False
        if granted > 1:
            with _leases_lock:
                lease = _leases.get(key)
                if lease is not None and lease[0] == window:
                    lease[1] += granted - 1
                else:
                    if len(_leases) >= LEASES_KEPT:
                        for stale in [k for k, (w, _) in _leases.items() if w != window]:
                            del _leases[stale]
                    _leases[key] = [window, granted - 1]
        return True

    def wait(self):
        return max(self.retry_after, 1.0)
