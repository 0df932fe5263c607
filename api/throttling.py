"""Throttling of job creation: JOB_CREATE_RATE per API token (or per user when signed in by session)."""
import logging

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


# INCR, and EXPIRE on the window's first request, as one atomic command (cheaper than a two-command pipeline).
_COUNT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
_script = None


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

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.retry_after = (window + 1) * self.duration - now
        window_key = f"maracker:{key}:{window}"
        try:
            # One command: count this request and make sure the window's key expires.
            count = _count_script()(keys=[window_key], args=[int(self.duration) + 1])
        except Exception as exc:  # the cache (Redis) is down: do not refuse work because of it
            logger.warning("job creation throttle skipped: cache unavailable (%s)", exc.__class__.__name__)
            return True
        return count <= self.num_requests

    def wait(self):
        return max(self.retry_after, 1.0)
