"""Jobs carried out by a real Celery worker against the Marathon simulator, through the HTTP API."""
import json
import threading
import time

import pytest
import requests
from django.test import override_settings

from shared.models import Deployment, Job
from tests.fixtures.jobs import wait_job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(admin_api_client):
    """These tests act as an admin (with an API token); who may do what is tested in test_permissions.py."""
    return admin_api_client


@pytest.fixture
def sim(marathon_sim, celery_worker):
    return marathon_sim


def post(client, url, body=None, **headers):
    return client.post(url, data=json.dumps(body) if body is not None else None, content_type="application/json",
                       **headers)


def deploy(client, config, body=None):
    response = post(client, f"/api/v1/marathon-configs/{config.pk}/deploy", body)
    assert response.status_code == 202, response.content
    return response.json()["id"]


def marathon_app(sim, app_id):
    response = sim.get(f"/v2/apps{app_id}", params={"embed": "app.tasks"})
    return response.json()["app"] if response.status_code == 200 else None


def apps_for(sim, config):
    return [a["id"] for a in sim.get("/v2/apps").json()["apps"] if a["id"].endswith(f"/{config.pk}")]


def test_deploy_reaches_succeeded_and_marathon_runs_the_app(client, sim, make_app):
    app, config = make_app("nginx-test", ports=(80, 443))
    job = wait_job(deploy(client, config, {"instances": 2}))
    assert job.status == "succeeded", job.last_error
    assert job.attempts == 1 and job.deployment_id and job.marathon_version
    remote = marathon_app(sim, job.marathon_app_id)
    assert remote["instances"] == 2 and remote["container"]["docker"]["image"] == "nginx"
    assert [m["containerPort"] for m in remote["container"]["portMappings"]] == [80, 443]
    assert remote["labels"]["traefik.frontend.rule"] == f"Host:nginx-test-{config.pk}.apps.localhost"
    deployment = Deployment.objects.get(marathon_app_id=job.marathon_app_id)
    assert deployment.config_id == config.pk
    assert deployment.status == "running" and deployment.tasks_running == 2
    assert all(task["endpoints"] for task in deployment.tasks.values())
    types = [e.type for e in job.events.all()]
    assert types.index("marathon_request") < types.index("marathon_accepted")
    transitions = [(e.from_status, e.to_status) for e in job.events.filter(type="transition")]
    assert transitions == [("queued", "running"), ("running", "waiting"), ("waiting", "succeeded")]
    body = client.get(f"/api/v1/deployments/{deployment.pk}").json()
    assert body["status"] == "running" and body["url"] == job.public_url


@override_settings(JOB_DEADLINE_SECONDS=4)
def test_failing_image_fails_at_its_deadline_with_marathons_reason(client, sim, make_app):
    _, config = make_app(image="example/fail-on-start")
    job = wait_job(deploy(client, config), timeout=30)
    assert job.status == "failed"
    assert job.last_error["code"] == "deadline_exceeded"
    assert job.last_error["details"]["last_task_failure"]
    assert job.finished_at <= job.deadline.replace(microsecond=0) + __import__("datetime").timedelta(seconds=10)
    deployment = Deployment.objects.get(marathon_app_id=job.marathon_app_id)
    assert deployment.status == "failed" and deployment.last_failure


def test_three_503s_then_success_takes_four_attempts(client, sim, make_app):
    _, config = make_app()
    sim.fail_next(3, 503, path_prefix="/v2/apps")
    job = wait_job(deploy(client, config))
    assert job.status == "succeeded" and job.attempts == 4
    errors = job.events.filter(type="marathon_error")
    assert errors.count() == 3 and all(e.data["retryable"] for e in errors)
    assert len(apps_for(sim, config)) == 1


def test_422_fails_at_once_with_marathons_details(client, sim, make_app):
    _, config = make_app()
    details = [{"path": "/cpus", "errors": ["error.min"]}]
    sim.fail_next(1, 422, path_prefix="/v2/apps", body={"message": "Object is not valid", "details": details})
    job = wait_job(deploy(client, config))
    assert job.status == "failed" and job.attempts == 1
    assert job.last_error["code"] == "marathon_rejected" and job.last_error["retryable"] is False
    assert job.last_error["details"] == details


def test_marathon_down_past_all_retries_fails_with_marathon_unavailable(client, sim, make_app):
    _, config = make_app()
    sim.fail_next(1000, 503)
    job = wait_job(deploy(client, config), timeout=60)
    assert job.status == "failed"
    assert job.last_error["code"] == "marathon_unavailable"
    assert job.attempts == job.max_attempts == 8
    sim.clear_faults()


def test_stop_restart_and_scale(client, sim, make_app):
    _, config = make_app()
    app_id = wait_job(deploy(client, config)).marathon_app_id
    for body, expected in (({"instances": 3}, 3), ({"instances": 0}, 0)):
        job = wait_job(post(client, f"/api/v1/marathon-configs/{config.pk}/scale", body).json()["id"])
        assert job.status == "succeeded", job.last_error
        assert marathon_app(sim, app_id)["instances"] == expected
    assert Deployment.objects.get(marathon_app_id=app_id).status == "stopped"
    post(client, f"/api/v1/marathon-configs/{config.pk}/scale", {"instances": 1})
    job = wait_job(post(client, f"/api/v1/marathon-configs/{config.pk}/restart").json()["id"])
    assert job.status == "succeeded" and job.kind == "restart"
    job = wait_job(post(client, f"/api/v1/marathon-configs/{config.pk}/stop").json()["id"])
    assert job.status == "succeeded"
    assert marathon_app(sim, app_id) is None
    assert Deployment.objects.get(marathon_app_id=app_id).status == "stopped"


def test_stop_of_an_app_not_on_marathon_succeeds(client, sim, make_app):
    _, config = make_app()
    job = wait_job(post(client, f"/api/v1/marathon-configs/{config.pk}/stop").json()["id"])
    assert job.status == "succeeded"


def test_cancel_while_waiting_rolls_the_deployment_back(client, sim, make_app):
    _, config = make_app(image="example/fail-forever")
    job_id = deploy(client, config)
    wait_job(job_id, "waiting")
    response = post(client, f"/api/v1/jobs/{job_id}/cancel")
    assert response.status_code == 202
    job = wait_job(job_id)
    assert job.status == "cancelled"
    assert job.events.filter(type="marathon_rollback").exists()
    # The rollback is itself a deployment; for a new app it removes the app.
    deadline = time.monotonic() + 10
    while sim.get("/v2/deployments").json() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not sim.get("/v2/deployments").json()
    assert marathon_app(sim, job.marathon_app_id) is None


def test_two_concurrent_deploys_of_one_configuration_run_one_after_the_other(client, sim, make_app):
    _, config = make_app()
    ids = []

    def request():
        from django.test import Client

        from django.db import connection

        try:
            ids.append(deploy(Client(headers={"Authorization": f"Token {client.token_key}"}), config))
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    jobs = sorted((wait_job(job_id) for job_id in ids), key=lambda j: j.created_at)
    assert [j.status for j in jobs] == ["succeeded", "succeeded"]
    assert jobs[1].started_at >= jobs[0].finished_at
    assert len(apps_for(sim, config)) == 1


def test_ancestor_deploy_route_runs_a_real_job(client, sim, make_app):
    _, config = make_app()
    response = client.generic("POST", f"/deploy/{config.pk}")
    assert response.status_code == 202
    assert wait_job(response.json()["job"]["id"]).status == "succeeded"
    response = client.generic("POST", f"/delete/{config.pk}/")
    assert wait_job(response.json()["job"]["id"]).status == "succeeded"


def test_wait_returns_as_soon_as_the_status_changes(client, live_server, sim, make_app):
    _, config = make_app()
    http = requests.Session()
    http.headers["Authorization"] = f"Token {client.token_key}"
    job_id = http.post(f"{live_server.url}/api/v1/marathon-configs/{config.pk}/deploy", json={}).json()["id"]
    seen = {http.get(f"{live_server.url}/api/v1/jobs/{job_id}?wait=10").json()["status"]}
    for _ in range(5):
        seen.add(http.get(f"{live_server.url}/api/v1/jobs/{job_id}?wait=10").json()["status"])
    assert "succeeded" in seen
    assert Job.objects.get(pk=job_id).status == "succeeded"


def test_forced_delete_of_a_deployed_app_stops_it_then_deletes_it(client, sim, make_app):
    from shared.models import App

    app, config = make_app()
    job = wait_job(deploy(client, config))
    assert client.delete(f"/api/v1/apps/{app.pk}/").status_code == 409
    response = client.delete(f"/api/v1/apps/{app.pk}/?force=true")
    assert response.status_code == 202
    stop = wait_job(response.json()["jobs"][0]["id"])
    assert stop.status == "succeeded"
    assert marathon_app(sim, job.marathon_app_id) is None
    assert not App.objects.filter(pk=app.pk).exists()
    assert Deployment.objects.get(marathon_app_id=job.marathon_app_id).status == "stopped"
