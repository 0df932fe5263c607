"""Job routes without a worker: validation, 202 answers, idempotency, queueing behind, cancel, legacy routes."""
import json
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from shared.models import IdempotencyKey, Job, JobEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(admin_api_client):
    """These tests act as an admin (with an API token); who may do what is tested in test_permissions.py."""
    return admin_api_client


PROBLEM = "application/problem+json"


def post(client, url, body=None, **headers):
    data = json.dumps(body) if body is not None else None
    return client.post(url, data=data, content_type="application/json", **headers)


def test_deploy_answers_202_with_the_job_and_where_to_poll(client, make_app, django_capture_on_commit_callbacks):
    app, config = make_app("nginx-test")
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, f"/api/v1/marathon-configs/{config.pk}/deploy", {"instances": 2})
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == f"/api/v1/jobs/{body['id']}"
    assert response["Retry-After"] == "2"
    assert body["status"] == "queued" and body["kind"] == "deploy"
    assert body["params"] == {"instances": 2, "force": False}
    assert body["marathon_app_id"] == f"/maracker/nginx-test/{config.pk}"
    assert body["public_url"] == f"http://nginx-test-{config.pk}.apps.localhost/"
    assert body["app"] == app.pk and body["config"] == config.pk
    assert body["requested_by"] == Job.objects.get(pk=body["id"]).requested_by_id is not None
    assert len(callbacks) == 1  # the task is sent after commit
    assert JobEvent.objects.filter(job_id=body["id"], type="created").exists()


@pytest.mark.parametrize("action,body", [("deploy", None), ("stop", None), ("restart", {}), ("scale", {"instances": 3}),
                                         ("scale", {"instances": 0}), ("deploy", {"force": True})])
def test_every_job_kind_is_accepted(client, make_app, action, body):
    _, config = make_app()
    response = post(client, f"/api/v1/marathon-configs/{config.pk}/{action}", body)
    assert response.status_code == 202, response.content
    assert response.json()["kind"] == action


@pytest.mark.parametrize(
    "action,body,field",
    [
        ("deploy", {"instances": -1}, "instances"),
        ("deploy", {"instances": "many"}, "instances"),
        ("deploy", {"instances": 10**12}, "instances"),
        ("deploy", {"force": "maybe"}, "force"),
        ("deploy", [1, 2], "body"),
        ("deploy", {"callback_url": "not a url"}, "callback_url"),
        ("scale", {}, "instances"),
        ("scale", {"instances": None}, "instances"),
        ("scale", {"instances": 1.5}, "instances"),
        ("stop", {"force": []}, "force"),
    ],
)
def test_bad_job_requests_are_problems_naming_the_field_and_create_nothing(client, make_app, action, body, field):
    _, config = make_app()
    response = post(client, f"/api/v1/marathon-configs/{config.pk}/{action}", body)
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert field in response.json()["errors"]
    assert Job.objects.count() == 0


def test_malformed_json_and_wrong_content_type(client, make_app):
    _, config = make_app()
    response = client.post(f"/api/v1/marathon-configs/{config.pk}/deploy", data="{nope", content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    response = client.post(f"/api/v1/marathon-configs/{config.pk}/deploy", data="a=1", content_type="text/plain")
    assert response.status_code == 415 and response["Content-Type"] == PROBLEM
    assert Job.objects.count() == 0


@pytest.mark.parametrize("config_id", ["999999", "abc", "-1"])
def test_unknown_configuration_is_404(client, config_id):
    response = post(client, f"/api/v1/marathon-configs/{config_id}/deploy", {})
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert Job.objects.count() == 0


def test_idempotency_key_returns_the_same_job_or_422(client, make_app):
    _, config = make_app()
    url = f"/api/v1/marathon-configs/{config.pk}/deploy"
    first = post(client, url, {"instances": 1}, HTTP_IDEMPOTENCY_KEY="abc-1")
    again = post(client, url, {"instances": 1}, HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    other = post(client, url, {"instances": 2}, HTTP_IDEMPOTENCY_KEY="abc-1")
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["errors"]
    assert Job.objects.count() == 1


def test_idempotency_key_expires_after_its_ttl(client, make_app):
    _, config = make_app()
    url = f"/api/v1/marathon-configs/{config.pk}/deploy"
    first = post(client, url, {}, HTTP_IDEMPOTENCY_KEY="k")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    second = post(client, url, {}, HTTP_IDEMPOTENCY_KEY="k")
    assert first.json()["id"] != second.json()["id"]


def test_a_second_request_on_one_app_queues_behind_the_first(client, make_app):
    _, config = make_app()
    first = post(client, f"/api/v1/marathon-configs/{config.pk}/deploy").json()
    second = post(client, f"/api/v1/marathon-configs/{config.pk}/restart").json()
    assert second["blocked_by"] == first["id"]
    assert first["id"] in second["waiting_for"]
    assert first["blocked_by"] is None


def test_cancel_a_queued_job_at_once_and_refuse_twice(client, make_app):
    _, config = make_app()
    job = post(client, f"/api/v1/marathon-configs/{config.pk}/deploy").json()
    response = post(client, f"/api/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert response.json()["finished_at"]
    again = post(client, f"/api/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and again["Content-Type"] == PROBLEM


def test_job_detail_list_filters_and_events(client, make_app):
    _, config = make_app()
    job = post(client, f"/api/v1/marathon-configs/{config.pk}/deploy").json()
    post(client, f"/api/v1/marathon-configs/{config.pk}/stop")
    assert client.get(f"/api/v1/jobs/{job['id']}").json()["id"] == job["id"]
    listing = client.get("/api/v1/jobs?kind=deploy").json()
    assert [item["id"] for item in listing["results"]] == [job["id"]]
    assert client.get(f"/api/v1/jobs?config={config.pk}").json()["count"] == 2
    assert client.get("/api/v1/jobs?status=queued,running").json()["count"] == 2
    bad = client.get("/api/v1/jobs?status=sleeping")
    assert bad.status_code == 400 and "status" in bad.json()["errors"]
    events = client.get(f"/api/v1/jobs/{job['id']}/events").json()["results"]
    assert events[0]["type"] == "created"
    assert client.get("/api/v1/jobs/not-a-uuid").status_code == 404
    assert client.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000").status_code == 404


def test_wait_parameter_is_bounded_and_returns(client, make_app):
    _, config = make_app()
    job = post(client, f"/api/v1/marathon-configs/{config.pk}/deploy").json()
    assert client.get(f"/api/v1/jobs/{job['id']}?wait=31").status_code == 400
    assert client.get(f"/api/v1/jobs/{job['id']}?wait=abc").status_code == 400
    response = client.get(f"/api/v1/jobs/{job['id']}?wait=0.3")
    assert response.status_code == 200 and response.json()["status"] == "queued"


@pytest.mark.parametrize("suffix", ["", "/"])
def test_ancestor_deploy_and_delete_routes_answer_202_with_config_and_job(client, make_app, suffix):
    _, config = make_app()
    response = client.generic("POST", f"/deploy/{config.pk}{suffix}")
    assert response.status_code == 202
    body = response.json()
    assert {"id", "cpu", "memory", "args", "env_vars", "job"} <= set(body)
    assert body["id"] == config.pk and body["job"]["kind"] == "deploy"
    response = client.post(f"/delete/{config.pk}{suffix}", content_type="application/json")
    assert response.status_code == 202 and response.json()["job"]["kind"] == "stop"
    assert client.get(f"/deploy/{config.pk}{suffix}").status_code == 405
    assert client.generic("POST", "/deploy/424242").status_code == 404


@override_settings(JOB_DEADLINE_SECONDS=30)
def test_deadline_comes_from_settings(client, make_app):
    _, config = make_app()
    job = Job.objects.get(pk=post(client, f"/api/v1/marathon-configs/{config.pk}/deploy").json()["id"])
    assert 25 <= (job.deadline - job.created_at).total_seconds() <= 35


def test_deployments_listing_is_empty_then_lists(client):
    assert client.get("/api/v1/deployments").json()["count"] == 0


@pytest.mark.parametrize("query,field", [
    ({"status": "running\x00"}, "status"), ({"status": "sleeping"}, "status"), ({"app": "8\x00M"}, "app"),
    ({"app": "9" * 30}, "app"), ({"app": "x" * 51}, "app"),
])
def test_deployment_filters_refuse_what_cannot_match_with_a_problem(client, query, field):
    response = client.get("/api/v1/deployments", query)
    assert response.status_code == 400 and field in response.json()["errors"]


@pytest.mark.parametrize("query,field", [
    ({"app": "8\x00M"}, "app"), ({"app": "9" * 30}, "app"), ({"config": "9" * 30}, "config"),
    ({"config": "١٢"}, "config"),
])
def test_job_filters_refuse_what_cannot_match_with_a_problem(client, query, field):
    response = client.get("/api/v1/jobs", query)
    assert response.status_code == 400 and field in response.json()["errors"]
