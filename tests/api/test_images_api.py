"""Image metadata routes without a worker: 202 answers with jobs, validation problems, idempotency, 404s."""
import json

import pytest

from shared.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(admin_api_client):
    """These tests act as an admin (with an API token); who may do what is tested in test_permissions.py."""
    return admin_api_client


PROBLEM = "application/problem+json"


def post(client, url, body=None, **headers):
    data = json.dumps(body) if body is not None else None
    return client.post(url, data=data, content_type="application/json", **headers)


def test_lookup_answers_202_with_an_image_lookup_job_sent_to_the_metadata_task(
        client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, "/api/v1/images/lookups", {"image": "nginx:1.27"})
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/jobs/{body['id']}"
    assert body["kind"] == "image_lookup" and body["status"] == "queued"
    assert body["params"] == {"image": "nginx:1.27", "reference": "docker.io/library/nginx:1.27"}
    assert len(callbacks) == 1


def test_metadata_jobs_use_the_metadata_task_and_deploys_the_jobs_task():
    from shared.services.jobs import task_for_kind

    for kind in ("image_lookup", "app_import", "metadata_refresh"):
        assert task_for_kind(kind) == "maracker.metadata.execute"
    for kind in ("deploy", "stop", "restart", "scale"):
        assert task_for_kind(kind) == "maracker.jobs.execute"
    from worker.celery import app

    assert app.amqp.router.route({}, "maracker.metadata.execute")["queue"].name == "metadata"
    assert app.amqp.router.route({}, "maracker.jobs.execute")["queue"].name == "deploy"


@pytest.mark.parametrize("url", ["/api/v1/images/lookups", "/api/v1/apps/import"])
@pytest.mark.parametrize("image", ["nginx:", "UPPER/case", "a//b", "nginx@sha256:123", "with space", "", 12.5, None,
                                   ["nginx"]])
def test_a_malformed_reference_is_a_400_naming_image_and_creates_no_job(client, url, image):
    response = post(client, url, {"image": image})
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    assert "image" in response.json()["errors"]
    assert not Job.objects.exists()


@pytest.mark.parametrize("url", ["/api/v1/images/lookups", "/api/v1/apps/import"])
def test_a_missing_image_or_a_body_that_is_not_an_object_is_a_400(client, url):
    response = post(client, url, {})
    assert response.status_code == 400 and "image" in response.json()["errors"]
    response = post(client, url, ["nginx"])
    assert response.status_code == 400
    response = client.post(url, data="{not json", content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert not Job.objects.exists()


def test_import_answers_202_with_an_app_import_job(client):
    response = post(client, "/api/v1/apps/import", {"image": "registry.example.com:5000/team/app:2", "name": "my-app"})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["kind"] == "app_import" and body["app"] is None
    assert body["params"] == {"image": "registry.example.com:5000/team/app:2",
                              "reference": "registry.example.com:5000/team/app:2", "name": "my-app"}


@pytest.mark.parametrize("name", ["Bad_Name", "-x", "a" * 51, "", 5])
def test_import_with_an_invalid_name_is_a_400_naming_name(client, name):
    response = post(client, "/api/v1/apps/import", {"image": "nginx", "name": name})
    assert response.status_code == 400, response.content
    assert "name" in response.json()["errors"]
    assert not Job.objects.exists()


def test_refresh_answers_202_with_a_metadata_refresh_job(client, make_app):
    app, _ = make_app("web", image="nginx:1.27")
    response = post(client, f"/api/v1/apps/{app.pk}/refresh-metadata")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["kind"] == "metadata_refresh" and body["app"] == app.pk and body["app_name"] == "web"
    assert body["params"] == {"image": "nginx:1.27"}
    assert body["marathon_app_id"] == "" and body["blocked_by"] is None


@pytest.mark.parametrize("pk", ["999999", "nope", "9" * 30])
def test_refresh_of_an_unknown_app_is_a_404(client, pk):
    response = post(client, f"/api/v1/apps/{pk}/refresh-metadata")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert not Job.objects.exists()


def test_refresh_finds_an_app_by_name(client, make_app):
    app, _ = make_app("by-name")
    response = post(client, "/api/v1/apps/by-name/refresh-metadata")
    assert response.status_code == 202 and response.json()["app"] == app.pk


def test_refresh_of_an_app_without_image_is_a_409(client, make_app):
    app, _ = make_app(image=None)
    response = post(client, f"/api/v1/apps/{app.pk}/refresh-metadata")
    assert response.status_code == 409 and response.json()["code"] == "no_image"


@pytest.mark.parametrize("url,body", [("/api/v1/images/lookups", {"image": "nginx"}),
                                      ("/api/v1/apps/import", {"image": "nginx", "name": "nx"})])
def test_idempotency_key_replays_the_job_and_refuses_another_body(client, url, body):
    first = post(client, url, body, HTTP_IDEMPOTENCY_KEY="k-1")
    again = post(client, url, body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] and again["Idempotent-Replayed"] == "true"
    other = post(client, url, {**body, "image": "nginx:2"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["errors"]
    assert Job.objects.count() == 1


def test_refresh_idempotency_key(client, make_app):
    app, _ = make_app()
    first = post(client, f"/api/v1/apps/{app.pk}/refresh-metadata", HTTP_IDEMPOTENCY_KEY="r-1")
    again = post(client, f"/api/v1/apps/{app.pk}/refresh-metadata", HTTP_IDEMPOTENCY_KEY="r-1")
    assert first.json()["id"] == again.json()["id"]


def test_the_routes_are_in_the_openapi_schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in ("/api/v1/images/lookups", "/api/v1/apps/import", "/api/v1/apps/{ref}/refresh-metadata"):
        assert "post" in paths[path], path
        assert "202" in paths[path]["post"]["responses"]
    schemas = json.loads(response.content)["components"]["schemas"]
    assert "ImageLookupRequest" in json.dumps(paths["/api/v1/images/lookups"]["post"]["requestBody"])
    assert schemas["ImageLookupRequestRequest"]["required"] == ["image"]
