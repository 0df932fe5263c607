"""Rendered catalog listings cached under the catalog's version: a write makes every entry stale.

The version comes from the database (triggers bump it in the writing transaction), so whatever writes the
catalog or its deployments, from any process, the next listing is computed afresh. Pages are kept in two
levels: Redis, shared by every web process, and a small in-process LRU in front of it, which spares the hot
pages a Redis round trip and the transfer of their body. Both are keyed by the version, so neither can serve
a stale page. A Redis outage only turns the shared level off.
"""
import hashlib
import logging
import threading
from collections import OrderedDict

from django.core.cache import cache

from shared.selectors.catalog import catalog_version

logger = logging.getLogger(__name__)
TTL_SECONDS = 300
LOCAL_ENTRIES = 256  # pages kept per process (a page of 50 apps is about 25 KB)

_local = OrderedDict()
_local_lock = threading.Lock()


def _local_get(key):
    with _local_lock:
        body = _local.get(key)
        if body is not None:
            _local.move_to_end(key)
        return body


def _local_put(key, body):
    with _local_lock:
        _local[key] = body
        _local.move_to_end(key)
        while len(_local) > LOCAL_ENTRIES:
            _local.popitem(last=False)


def listing_key(request):
    """The key of a listing page: the catalog's version, the path and the query (in a canonical order).
    Takes a Django or a DRF request: both have `path` and `GET`. Computed once per request (the middleware's
    fast path computes it first; on a miss the view reuses it)."""
    known = getattr(request, "listing_cache_key", None)
    if known is not None:
        return known
    query = "&".join(f"{k}={v}" for k, v in sorted(request.GET.lists()))
    digest = hashlib.sha256(f"{request.path}?{query}".encode()).hexdigest()[:32]
    key = f"catalog-list:{catalog_version()}:{digest}"
    request.listing_cache_key = key
    return key


def cached_listing(key):
    body = _local_get(key)
    if body is not None:
        return body
    try:
        body = cache.get(key)
    except Exception as exc:  # the cache is an optimisation: never fail a read because Redis is down
        logger.warning("listing cache unavailable: %s", exc.__class__.__name__)
        return None
    if body is not None:
        _local_put(key, body)
    return body


def store_listing(key, body):
    _local_put(key, body)
    try:
        cache.set(key, body, TTL_SECONDS)
    except Exception as exc:  # as above
        logger.warning("listing cache unavailable: %s", exc.__class__.__name__)
