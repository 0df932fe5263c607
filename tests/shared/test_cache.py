"""The Redis cache backend: Django's behaviour, with one client per connection pool."""
from django.core.cache import caches

from shared.cache import RedisCache


def test_the_cache_is_this_backend_and_reuses_its_client():
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    cache.set("maracker-test-key", {"a": [1, 2]}, 30)
    assert cache.get("maracker-test-key") == {"a": [1, 2]}
    client = cache._cache.get_client()
    assert cache._cache.get_client(write=True) is client
    assert cache.delete("maracker-test-key") and cache.get("maracker-test-key", "gone") == "gone"
    assert cache._cache.get_client() is client
