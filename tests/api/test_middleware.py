"""The API middleware: the public listing answered from the cache, exactly as the view would answer it."""
import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from tests.fixtures.auth import make_user, token_client
from tests.fixtures.catalog import create_app

pytestmark = pytest.mark.django_db

SAME_HEADERS = ("Content-Type", "Vary", "Allow", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
                "Cross-Origin-Opener-Policy", "Content-Length")


def view_calls(monkeypatch):
    """Counts the requests that reach the listing view."""
    from api.views.catalog import AppListView

    calls = []
    original = AppListView.list

    def counting(self, request, *args, **kwargs):
        calls.append(request.path)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(AppListView, "list", counting)
    return calls


@pytest.mark.parametrize("path", ["/api/v1/apps/?page_size=2&page=1", "/api/v1/apps", "/apps", "/apps/"])
def test_a_cached_public_listing_is_answered_before_the_view_with_the_views_headers(monkeypatch, path):
    create_app()
    create_app()
    calls = view_calls(monkeypatch)
    first = Client().get(path)  # a miss: the view renders and caches
    assert first.status_code == 200 and calls == [path.split("?")[0]]
    with CaptureQueriesContext(connection) as queries:
        second = Client().get(path, HTTP_ACCEPT="application/json")
    assert len(calls) == 1  # answered from the cache
    assert len(queries) == 1  # the catalog version
    assert second.status_code == 200 and second.content == first.content
    for header in SAME_HEADERS:
        assert second.headers.get(header) == first.headers.get(header), header
    assert second["X-Request-ID"] and second["X-Request-ID"] != first["X-Request-ID"]


def test_a_miss_looks_the_page_up_once(monkeypatch):
    from api import listing_cache

    create_app()
    looked_up = []
    original = listing_cache.cached_listing
    monkeypatch.setattr("api.middleware.cached_listing", lambda key: looked_up.append(key) or original(key))
    monkeypatch.setattr("api.views.catalog.cached_listing", lambda key: looked_up.append(key) or original(key))
    assert Client().get("/api/v1/apps/").status_code == 200  # a miss: rendered by the view
    assert len(looked_up) == 1
    assert Client().get("/api/v1/apps/").status_code == 200  # a hit, in the middleware
    assert len(looked_up) == 2


def test_a_write_makes_the_cached_listing_stale(monkeypatch):
    app, _ = create_app()
    Client().get("/api/v1/apps/")
    app.description = "changed"
    app.save()
    calls = view_calls(monkeypatch)
    assert Client().get("/api/v1/apps/").json()["results"][0]["description"] == "changed"
    assert len(calls) == 1


def test_requests_that_could_be_answered_otherwise_go_to_the_view(monkeypatch):
    create_app()
    Client().get("/api/v1/apps/")  # cached
    calls = view_calls(monkeypatch)
    # A bad token is refused, as everywhere, though the catalog is public.
    refused = Client(HTTP_AUTHORIZATION="Token mrk_" + "0" * 64).get("/api/v1/apps/")
    assert refused.status_code == 401
    # Signed in with a token or a session: the view answers (the same page, from its cache).
    assert token_client(make_user("viewer")).get("/api/v1/apps/").status_code == 200
    session = Client()
    session.force_login(make_user("viewer"))
    assert session.get("/api/v1/apps/").status_code == 200
    # An Accept the JSON renderer cannot satisfy is the view's to refuse.
    assert Client().get("/api/v1/apps/", HTTP_ACCEPT="text/csv").status_code == 406
    # A HEAD, another method, another path: not this middleware's.
    assert Client().head("/api/v1/apps/").status_code == 200
    assert len(calls) == 3  # the token, the session and the HEAD reached the list (401 and 406 stop before it)
    with override_settings(PUBLIC_CATALOG=False):
        assert Client().get("/api/v1/apps/").status_code == 401
