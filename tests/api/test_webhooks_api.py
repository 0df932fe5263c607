"""The webhook routes: subscriptions, secrets shown once, ping, deliveries with attempts, redelivery, problems."""
import json

import pytest
from django.test import override_settings

from shared.models import Job, WebhookAttempt, WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(admin_api_client):
    """These tests act as an admin (with an API token); who may do what is tested in test_permissions.py."""
    return admin_api_client


ALLOW_LOOPBACK = override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True)


def send(client, method, url, body=None):
    return getattr(client, method)(url, data=json.dumps(body) if body is not None else None,
                                   content_type="application/json")


def create(client, **fields):
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["job.succeeded", "job.failed"], **fields}
    with ALLOW_LOOPBACK:
        response = send(client, "post", "/api/v1/webhooks", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_create_shows_the_secret_once_and_reads_never_show_it(client, make_app):
    app, _ = make_app()
    body = create(client, app=app.pk, description="ci")
    assert body["secret"].startswith("whsec_")
    assert body["event_types"] == ["job.succeeded", "job.failed"] and body["app"] == app.pk and body["active"]
    one = client.get(f"/api/v1/webhooks/{body['id']}").json()
    listed = client.get("/api/v1/webhooks").json()
    assert "secret" not in one and all("secret" not in item for item in listed["results"])
    assert one["links"]["deliveries"] == f"/api/v1/webhooks/{body['id']}/deliveries"


def test_rotate_secret_answers_the_new_one(client):
    body = create(client)
    rotated = send(client, "post", f"/api/v1/webhooks/{body['id']}/rotate-secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != body["secret"]
    assert WebhookSubscription.objects.get(pk=body["id"]).secret == rotated["secret"]


def test_update_and_delete(client):
    body = create(client)
    with ALLOW_LOOPBACK:
        patched = send(client, "patch", f"/api/v1/webhooks/{body['id']}",
                       {"event_types": ["app.created"], "active": False})
        assert patched.status_code == 200 and patched.json()["event_types"] == ["app.created"]
        put = send(client, "put", f"/api/v1/webhooks/{body['id']}",
                   {"url": "http://127.0.0.1:9/other", "event_types": ["app.deleted"]})
    assert put.status_code == 200 and put.json()["url"] == "http://127.0.0.1:9/other" and put.json()["active"]
    assert client.delete(f"/api/v1/webhooks/{body['id']}").status_code == 204
    assert client.get(f"/api/v1/webhooks/{body['id']}").status_code == 404


@pytest.mark.parametrize("url, words", [
    ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
    ("https://10.0.0.1/hook", "10.0.0.1 is a private address"),
    ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is a cloud metadata address"),
    ("https://localhost/hook", "localhost resolves to"),
    ("https://[::1]/hook", "::1 is a loopback address"),
    ("https://[::ffff:127.0.0.1]/hook", "127.0.0.1 is a loopback address (as ::ffff:7f00:1)"),
    ("http://93.184.215.14/hook", "must use https"),
])
def test_the_ssrf_guard_answers_400_naming_url(client, url, words):
    response = send(client, "post", "/api/v1/webhooks", {"url": url, "event_types": ["job.failed"]})
    assert response.status_code == 400
    problem = response.json()
    assert response["content-type"] == "application/problem+json"
    assert list(problem["errors"]) == ["url"] and words in problem["errors"]["url"][0]
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.parametrize("body, fields", [
    ({}, {"url", "event_types"}),
    ({"url": "https://93.184.215.14/", "event_types": []}, {"event_types"}),
    ({"url": "https://93.184.215.14/", "event_types": ["job.exploded"]}, {"event_types"}),
    ({"url": "https://93.184.215.14/", "event_types": "job.failed"}, {"event_types"}),
    ({"url": 12, "event_types": ["job.failed"]}, {"url"}),
    ({"url": "https://93.184.215.14/", "event_types": ["job.failed"], "app": 987654}, {"app"}),
    ({"url": "https://93.184.215.14/", "event_types": ["job.failed"], "app": "web"}, {"app"}),
    ({"url": "https://93.184.215.14/", "event_types": ["job.failed"], "active": "yes"}, {"active"}),
    ({"url": "https://93.184.215.14/", "event_types": ["job.failed"], "secret": "whsec_mine"}, {"secret"}),
    ({"url": "https://93.184.215.14/", "event_types": ["job.failed"], "colour": "red"}, {"colour"}),
    ({"url": "https://" + "a" * 2050 + ".example/", "event_types": ["job.failed"]}, {"url"}),
    ([1, 2], {"body"}),
])
def test_bad_subscription_input_gives_problems_naming_the_fields(client, body, fields):
    response = send(client, "post", "/api/v1/webhooks", body)
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == fields
    assert WebhookSubscription.objects.count() == 0


def test_malformed_json_and_unknown_ids_are_problems(client):
    response = client.post("/api/v1/webhooks", data="{nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["errors"]["body"]
    assert client.get("/api/v1/webhooks/abc").status_code == 404
    assert client.get("/api/v1/webhooks/999999/deliveries").status_code == 404
    assert send(client, "post", "/api/v1/webhook-deliveries/not-a-uuid/redeliver").status_code == 404
    body = create(client)
    response = send(client, "patch", f"/api/v1/webhooks/{body['id']}", {"event_types": ["nope"]})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["event_types"]
    assert client.get(f"/api/v1/webhooks/{body['id']}/deliveries?status=odd").status_code == 400


def test_ping_deliveries_with_attempts_and_redelivery(client, django_capture_on_commit_callbacks):
    body = create(client)
    with django_capture_on_commit_callbacks() as callbacks:
        response = send(client, "post", f"/api/v1/webhooks/{body['id']}/ping")
    assert response.status_code == 202 and len(callbacks) == 1  # the task is published after commit
    delivery = response.json()
    assert delivery["event_type"] == "webhook.ping" and delivery["status"] == "pending"
    assert delivery["payload"]["type"] == "webhook.ping" and response["Location"].endswith(delivery["id"])
    WebhookAttempt.objects.create(delivery_id=delivery["id"], number=1, status_code=500, duration_ms=12,
                                  response_body="oops", error="")
    for _ in range(2):
        send(client, "post", f"/api/v1/webhooks/{body['id']}/ping")
    page = client.get(f"/api/v1/webhooks/{body['id']}/deliveries?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    last = client.get(f"/api/v1/webhooks/{body['id']}/deliveries?page=2&page_size=2").json()["results"][0]
    assert last["id"] == delivery["id"]
    assert last["attempt_log"] == [{"number": 1, "at": last["attempt_log"][0]["at"], "status_code": 500,
                                    "duration_ms": 12, "response_body": "oops", "error": ""}]
    again = send(client, "post", f"/api/v1/webhook-deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202
    copy = again.json()
    assert copy["id"] != delivery["id"] and copy["redelivery_of"] == delivery["id"]
    assert copy["payload"] == delivery["payload"]
    assert client.get(f"/api/v1/webhook-deliveries/{copy['id']}").json()["status"] == "pending"


def test_ping_and_redelivery_of_a_disabled_subscription_are_conflicts(client):
    body = create(client)
    delivery = send(client, "post", f"/api/v1/webhooks/{body['id']}/ping").json()
    WebhookSubscription.objects.filter(pk=body["id"]).update(active=False, disabled_reason="410 Gone")
    for url in (f"/api/v1/webhooks/{body['id']}/ping", f"/api/v1/webhook-deliveries/{delivery['id']}/redeliver"):
        response = send(client, "post", url)
        assert response.status_code == 409 and response.json()["code"] == "webhook_disabled"
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.parametrize("url, words", [
    ("https://127.0.0.1/cb", "loopback"),
    ("https://10.0.0.1/cb", "private"),
    ("https://169.254.169.254/cb", "metadata"),
    ("https://localhost/cb", "localhost resolves to"),
    ("https://[::1]/cb", "loopback"),
    ("https://[::ffff:127.0.0.1]/cb", "loopback"),
])
def test_callback_url_goes_through_the_guard_and_creates_no_job(client, url, words, make_app):
    _, config = make_app()
    response = send(client, "post", f"/api/v1/marathon-configs/{config.pk}/deploy", {"callback_url": url})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["callback_url"] and words in errors["callback_url"][0]
    assert Job.objects.count() == 0


def test_an_allowed_callback_url_is_stored_on_the_job(client, make_app):
    _, config = make_app()
    with ALLOW_LOOPBACK:
        response = send(client, "post", f"/api/v1/marathon-configs/{config.pk}/deploy",
                        {"callback_url": "http://127.0.0.1:9/cb"})
    assert response.status_code == 202 and response.json()["callback_url"] == "http://127.0.0.1:9/cb"
