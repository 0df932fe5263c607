"""Metadata caches: the in-process one, and the Django cache framework one (Redis in this project)."""
import pytest

from shared.registry.cache import DjangoCache, InMemoryCache, MetadataCache


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_in_memory_cache_expires_entries():
    clock = FakeClock()
    cache = InMemoryCache(clock=clock)
    cache.set("k", {"v": 1}, ttl=10)
    assert cache.get("k") == {"v": 1}
    clock.now += 11
    assert cache.get("k") is None
    assert len(cache) == 0


def test_in_memory_cache_is_bounded():
    cache = InMemoryCache(max_entries=2)
    for key in "abc":
        cache.set(key, {"k": key}, ttl=60)
    assert cache.get("a") is None
    assert cache.get("c") == {"k": "c"}


def test_both_caches_satisfy_the_interface():
    assert isinstance(InMemoryCache(), MetadataCache)
    assert isinstance(DjangoCache(), MetadataCache)


def test_django_cache_stores_and_reads_back():
    from django.conf import settings

    if not settings.configured:
        pytest.skip("Django settings are not configured")
    cache = DjangoCache(prefix="registry-metadata-test:")
    cache.set("sha256:abc|linux/amd64", {"labels": {"a": "b"}}, ttl=30)
    assert cache.get("sha256:abc|linux/amd64") == {"labels": {"a": "b"}}
    assert cache.get("sha256:missing|linux/amd64") is None
