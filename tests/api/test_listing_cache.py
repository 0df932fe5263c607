"""The listing cache's two levels: an in-process LRU in front of Redis, both keyed by the catalog's version."""
import pytest
from django.core.cache import cache
from django.test import Client

from api import listing_cache
from tests.fixtures.catalog import create_app

pytestmark = pytest.mark.django_db


def test_a_page_stays_in_the_process_when_redis_loses_it_and_a_write_makes_it_stale(django_assert_max_num_queries):
    app, _ = create_app()
    first = Client().get("/api/v1/apps/")
    assert first.status_code == 200 and first.json()["count"] == 1
    cache.clear()  # Redis lost every page (flushed, restarted, evicted)
    with django_assert_max_num_queries(1):  # the version only: the page comes from this process
        assert Client().get("/api/v1/apps/").content == first.content
    app.description = "changed"
    app.save()  # the triggers move the version: both levels miss
    assert Client().get("/api/v1/apps/").json()["results"][0]["description"] == "changed"


def test_a_page_from_redis_is_kept_in_the_process():
    key = "catalog-list:test:page"
    cache.set(key, b'{"count": 0}')
    assert listing_cache.cached_listing(key) == b'{"count": 0}'
    cache.delete(key)
    assert listing_cache.cached_listing(key) == b'{"count": 0}'


def test_the_process_level_keeps_the_most_recently_used_pages_only(monkeypatch):
    monkeypatch.setattr(listing_cache, "LOCAL_ENTRIES", 3)
    monkeypatch.setattr(listing_cache, "_local", type(listing_cache._local)())
    for name in "abcd":
        listing_cache._local_put(name, name.encode())
    assert list(listing_cache._local) == ["b", "c", "d"]
    assert listing_cache._local_get("b") == b"b"  # used: now the most recent
    listing_cache._local_put("e", b"e")
    assert list(listing_cache._local) == ["d", "b", "e"]
