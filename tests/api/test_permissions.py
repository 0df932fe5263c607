"""Who may call each write route: anonymous, viewer, deployer not owning the app, its owner, admin."""
import json

import pytest
from django.test import Client, override_settings

from shared.models import Job, WebhookDelivery
from shared.services.jobs import job_create
from shared.services.webhooks import webhook_subscription_create
from tests.fixtures.auth import make_user, token_client
from tests.fixtures.catalog import create_app
from tests.fixtures.descriptors import NO_INPUTS

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
ACTORS = ("anonymous", "viewer", "deployer", "owner", "admin")
OWNED = (401, 403, 403)  # anonymous, viewer, a deployer who does not own the app
DEPLOYERS = (401, 403)  # anonymous, viewer: any deployer may (it creates something new)
ADMINS = (401, 403, 403, 403)  # anonymous, viewer, deployers: admins only

# name, method, url (formatted with the objects below), body, expected status per actor in ACTORS order
ROUTES = [
    # The catalog
    ("app create", "post", "/api/v1/apps/", {"name": "new-app", "docker_container": {"image": "nginx"}},
     (*DEPLOYERS, 201, 201, 201)),
    ("app put", "put", "/api/v1/apps/{app}/", {"name": "renamed"}, (*OWNED, 200, 200)),
    ("app patch", "patch", "/api/v1/apps/{app}/", {"description": "x"}, (*OWNED, 200, 200)),
    ("app delete", "delete", "/api/v1/apps/{app}/", None, (*OWNED, 204, 204)),
    ("config create", "post", "/api/v1/apps/{app}/marathon-configs/", {"cpu": 0.1, "memory": 64},
     (*OWNED, 201, 201)),
    ("config put", "put", "/api/v1/marathon-configs/{config}/", {"cpu": 0.2, "memory": 64}, (*OWNED, 200, 200)),
    ("config patch", "patch", "/api/v1/marathon-configs/{config}/", {"memory": 128}, (*OWNED, 200, 200)),
    ("config delete", "delete", "/api/v1/marathon-configs/{config}/", None, (*OWNED, 204, 204)),
    ("container put", "put", "/api/v1/containers/{container}/", {"image": "httpd"}, (*OWNED, 200, 200)),
    ("container patch", "patch", "/api/v1/containers/{container}/", {"ports": [8080]}, (*OWNED, 200, 200)),
    # The ancestor's catalog routes
    ("legacy app create", "post", "/apps", {"name": "old-app", "docker_container": {"image": "nginx"}},
     (*DEPLOYERS, 201, 201, 201)),
    ("legacy app put", "put", "/apps/{app}", {"name": "renamed"}, (*OWNED, 200, 200)),
    ("legacy app delete", "delete", "/apps/{app}/", None, (*OWNED, 204, 204)),
    ("legacy config put", "put", "/marathon-config/{config}", {"cpu": 0.2, "memory": 64}, (*OWNED, 200, 200)),
    ("legacy config delete", "delete", "/marathon-config/{config}/", None, (*OWNED, 204, 204)),
    ("legacy container put", "put", "/container/docker/{container}", {"image": "httpd"}, (*OWNED, 200, 200)),
    # Jobs
    ("deploy", "post", "/api/v1/marathon-configs/{config}/deploy", {"instances": 1}, (*OWNED, 202, 202)),
    ("stop", "post", "/api/v1/marathon-configs/{config}/stop", None, (*OWNED, 202, 202)),
    ("restart", "post", "/api/v1/marathon-configs/{config}/restart", {}, (*OWNED, 202, 202)),
    ("scale", "post", "/api/v1/marathon-configs/{config}/scale", {"instances": 2}, (*OWNED, 202, 202)),
    ("run", "post", "/api/v1/marathon-configs/{config}/run", {}, (*OWNED, 202, 202)),
    ("legacy deploy", "post", "/deploy/{config}", None, (*OWNED, 202, 202)),
    ("legacy delete", "post", "/delete/{config}/", None, (*OWNED, 202, 202)),
    ("job cancel", "post", "/api/v1/jobs/{job}/cancel", None, (*OWNED, 200, 200)),
    # Image metadata and imports
    ("image lookup", "post", "/api/v1/images/lookups", {"image": "nginx:1.25"}, (*DEPLOYERS, 202, 202, 202)),
    ("app import", "post", "/api/v1/apps/import", {"image": "nginx:1.25"}, (*DEPLOYERS, 202, 202, 202)),
    ("refresh metadata", "post", "/api/v1/apps/{app}/refresh-metadata", None, (*OWNED, 202, 202)),
    ("boutiques import", "post", "/api/v1/apps/import-boutiques", NO_INPUTS, (*DEPLOYERS, 201, 201, 201)),
    # Webhook subscriptions: admins only
    ("webhook create", "post", "/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "event_types": ["job.failed"]},
     (*ADMINS, 201)),
    ("webhook patch", "patch", "/api/v1/webhooks/{webhook}", {"description": "x"}, (*ADMINS, 200)),
    ("webhook delete", "delete", "/api/v1/webhooks/{webhook}", None, (*ADMINS, 204)),
    ("webhook rotate", "post", "/api/v1/webhooks/{webhook}/rotate-secret", None, (*ADMINS, 200)),
    ("webhook ping", "post", "/api/v1/webhooks/{webhook}/ping", None, (*ADMINS, 202)),
    ("webhook redeliver", "post", "/api/v1/webhook-deliveries/{delivery}/redeliver", None, (*ADMINS, 202)),
    # Tokens: every signed-in user manages their own
    ("token create", "post", "/api/v1/tokens", {"name": "ci"}, (401, 201, 201, 201, 201)),
    # Reads that are not public
    ("job list", "get", "/api/v1/jobs", None, (401, 200, 200, 200, 200)),
    ("job detail", "get", "/api/v1/jobs/{job}", None, (401, 200, 200, 200, 200)),
    ("deployments", "get", "/api/v1/deployments", None, (401, 200, 200, 200, 200)),
    ("webhook list", "get", "/api/v1/webhooks", None, (*ADMINS, 200)),
    ("audit", "get", "/api/v1/audit", None, (*ADMINS, 200)),
    # Public reads of the catalog (PUBLIC_CATALOG=true)
    ("app list", "get", "/api/v1/apps/", None, (200, 200, 200, 200, 200)),
    ("legacy app list", "get", "/apps", None, (200, 200, 200, 200, 200)),
    ("app detail", "get", "/api/v1/apps/{app}/", None, (200, 200, 200, 200, 200)),
]


@pytest.fixture
def world(settings):
    """An app owned by a deployer, a queued job of it, a subscription with a delivery, and a client per actor."""
    settings.WEBHOOK_ALLOW_PRIVATE = settings.WEBHOOK_ALLOW_HTTP = True  # the subscription's loopback URL
    settings.JOB_CREATE_RATE = "10000/min"
    owner = make_user("deployer")
    app, config = create_app(image="nginx")
    app.owner = owner
    app.save()
    # a queued job of the app that is not a deployment (which would make deleting the app a 409)
    job, _ = job_create(kind="metadata_refresh", app=app, params={"image": "nginx"}, requested_by=owner)
    subscription, _ = webhook_subscription_create(
        data={"url": "http://127.0.0.1:9/hook", "event_types": ["job.failed"]})
    delivery = WebhookDelivery.objects.create(subscription=subscription, url=subscription.url,
                                              event_type="job.failed", payload={"type": "job.failed"})
    clients = {
        "anonymous": Client(),
        "viewer": token_client(make_user("viewer")),
        "deployer": token_client(make_user("deployer")),
        "owner": token_client(owner),
        "admin": token_client(make_user(superuser=True)),
    }
    ids = {"app": app.pk, "config": config.pk, "container": app.docker_container.pk, "job": job.pk,
           "webhook": subscription.pk, "delivery": delivery.pk}
    return clients, ids


def call(client, method, url, body):
    kwargs = {"content_type": "application/json"}
    if body is not None:
        kwargs["data"] = json.dumps(body)
    return getattr(client, method)(url, **kwargs)


CASES = [(name, actor, method, url, body, statuses[index])
         for name, method, url, body, statuses in ROUTES for index, actor in enumerate(ACTORS)]


@pytest.mark.parametrize("name,actor,method,url,body,expected", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_route_answers_each_actor_as_the_rules_say(world, name, actor, method, url, body, expected):
    clients, ids = world
    response = call(clients[actor], method, url.format(**ids), body)
    assert response.status_code == expected, response.content[:500]
    if expected in (401, 403):
        problem = response.json()
        assert response["Content-Type"] == PROBLEM
        assert problem["status"] == expected
        assert problem["code"] == ("not_authenticated" if expected == 401 else "permission_denied")


def test_every_write_route_of_the_api_is_in_the_matrix():
    """A new write route must be added to ROUTES (and so get its permission checked)."""
    from django.urls import get_resolver

    from api.views import accounts

    skip = {accounts.TokenDetailView}  # tested below: a user revokes only their own tokens
    covered = set()
    for name, method, url, body, statuses in ROUTES:
        covered.add(url.split("{")[0].rstrip("/"))
    views = set()
    for pattern in get_resolver().url_patterns:
        for sub in getattr(pattern, "url_patterns", [pattern]):
            view_class = getattr(sub.callback, "view_class", None)
            if view_class is None or view_class in skip or not hasattr(view_class, "permission_classes"):
                continue
            if any(getattr(view_class, m, None) for m in ("post", "put", "patch", "delete")):
                views.add(view_class.__name__)
    from api.permissions import IsSignedIn

    for pattern in get_resolver().url_patterns:
        for sub in getattr(pattern, "url_patterns", [pattern]):
            view_class = getattr(sub.callback, "view_class", None)
            if view_class is None or view_class.__module__.startswith(("drf_spectacular", "django")):
                continue
            # No view of ours is open to everyone: each names its permission classes or takes the default.
            assert view_class.permission_classes, view_class
            assert all(cls.__module__ == "api.permissions" or cls is IsSignedIn
                       for cls in view_class.permission_classes), view_class
    assert views  # and every write view above answers through one of the routes in ROUTES (the matrix)


# --- 401 and 403 as problems --------------------------------------------------------------------------------


def test_anonymous_is_401_with_www_authenticate_and_a_signed_in_user_without_the_right_403(world):
    clients, ids = world
    url = f"/api/v1/marathon-configs/{ids['config']}/deploy"
    anonymous = call(clients["anonymous"], "post", url, {})
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Token realm="api"'
    assert anonymous["Content-Type"] == PROBLEM
    assert anonymous.json() == {"type": "about:blank", "title": "Unauthorized", "status": 401,
                                "code": "not_authenticated", "detail": "Authentication credentials were not provided.",
                                "instance": url}
    viewer = call(clients["viewer"], "post", url, {})
    assert viewer.status_code == 403 and not viewer.has_header("WWW-Authenticate")
    body = viewer.json()
    assert body["title"] == "Forbidden" and body["code"] == "permission_denied" and "deployer" in body["detail"]
    assert not Job.objects.filter(config_ref=ids["config"], requested_by__username__startswith="viewer").exists()


def test_a_wrong_or_malformed_token_is_401_authentication_failed(world):
    clients, ids = world
    for header in ("Token mrk_0000000000000000000000", "Bearer nope", "Token", "Token a b"):
        response = Client(headers={"Authorization": header}).get("/api/v1/jobs")
        assert response.status_code == 401, header
        assert response.json()["code"] == "authentication_failed"
        assert response["WWW-Authenticate"] == 'Token realm="api"'


def test_a_group_owning_the_app_lets_its_deployers_deploy(world):
    from django.contrib.auth.models import Group

    from shared.models import App

    clients, ids = world
    team = Group.objects.create(name="team-a")
    App.objects.filter(pk=ids["app"]).update(group=team)
    member = make_user("deployer")
    member.groups.add(team)
    response = call(token_client(member), "post", f"/api/v1/marathon-configs/{ids['config']}/deploy", {})
    assert response.status_code == 202
    outsider = call(clients["deployer"], "post", f"/api/v1/marathon-configs/{ids['config']}/deploy", {})
    assert outsider.status_code == 403


def test_the_creator_of_an_app_owns_it_and_the_job_says_who_asked(world):
    clients, ids = world
    deployer = clients["deployer"]
    created = call(deployer, "post", "/api/v1/apps/", {"name": "mine", "docker_container": {"image": "nginx"},
                                                       "marathon_configs": [{"cpu": 0.1, "memory": 64}]}).json()
    from shared.models import App

    assert App.objects.get(pk=created["id"]).owner == deployer.user
    response = call(deployer, "post", f"/api/v1/marathon-configs/{created['marathon_configs'][0]['id']}/deploy", {})
    assert response.status_code == 202
    assert Job.objects.get(pk=response.json()["id"]).requested_by == deployer.user


@override_settings(PUBLIC_CATALOG=False)
def test_a_private_catalog_needs_signing_in_to_read(world):
    clients, ids = world
    for url in ("/api/v1/apps/", "/apps", f"/api/v1/apps/{ids['app']}/", f"/api/v1/marathon-configs/{ids['config']}/"):
        assert clients["anonymous"].get(url).status_code == 401, url
        assert clients["viewer"].get(url).status_code == 200, url


# --- Sessions (the web pages' sign-in) ----------------------------------------------------------------------


def test_a_session_needs_the_csrf_token_for_writes():
    owner = make_user("deployer")
    app, config = create_app()
    app.owner = owner
    app.save()
    browser = Client(enforce_csrf_checks=True)
    browser.get("/accounts/login/")  # sets the csrftoken cookie
    browser.force_login(owner)
    assert browser.get("/api/v1/jobs").status_code == 200  # reads need no CSRF token
    url = f"/api/v1/marathon-configs/{config.pk}/deploy"
    refused = browser.post(url, data="{}", content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(url, data="{}", content_type="application/json", headers={"X-CSRFToken": token})
    assert accepted.status_code == 202
