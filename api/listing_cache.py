"""Rendered catalog listings cached in Redis under the catalog's version: a write makes every entry stale.

The version comes from the database (triggers bump it in the writing transaction), so whatever writes the
catalog or its deployments, from any process, the next listing is computed afresh. A Redis outage only
turns the cache off.
"""
import hashlib
import logging

from django.core.cache import cache

from shared.selectors.catalog import catalog_version

logger = logging.getLogger(__name__)
TTL_SECONDS = 300


def listing_key(request):
    query = "&".join(f"{k}={v}" for k, v in sorted(request.query_params.lists()))
    digest = hashlib.sha256(f"{request.path}?{query}".encode()).hexdigest()[:32]
    return f"catalog-list:{catalog_version()}:{digest}"


def cached_listing(key):
    try:
        return cache.get(key)
    except Exception as exc:  # the cache is an optimisation: never fail a read because Redis is down
        logger.warning("listing cache unavailable: %s", exc.__class__.__name__)
        return None


def store_listing(key, body):
    try:
        cache.set(key, body, TTL_SECONDS)
    except Exception as exc:  # as above
        logger.warning("listing cache unavailable: %s", exc.__class__.__name__)
