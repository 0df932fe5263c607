"""No API token or password reaches a log line, an error or a job's timeline during a whole deploy."""
import io
import json
import logging

import pytest
import structlog
from django.conf import settings
from django.test import Client

from shared.models import AuditEntry, Job, JobEvent
from tests.fixtures.auth import make_user
from tests.fixtures.jobs import wait_job

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Pw-for-the-log-test-4821"


@pytest.fixture
def web_log():
    """Every line of this (web) process as the real structured formatter writes it, at DEBUG level."""
    spec = dict(settings.LOGGING["formatters"]["structured"])
    formatter = spec.pop("()")(**spec)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)
    structlog.contextvars.clear_contextvars()


def test_a_full_deploy_writes_no_token_or_password_anywhere(marathon_sim, celery_worker, make_app, web_log, caplog):
    caplog.set_level(logging.DEBUG)
    user = make_user("deployer", username="logged-deployer", password=PASSWORD)
    browser = Client()
    # a wrong password first, then the right one, through the sign-in page
    assert browser.post("/accounts/login/", {"username": user.username, "password": PASSWORD + "x"}).status_code == 200
    assert browser.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    created = browser.post("/api/v1/tokens", data='{"name": "deploy"}', content_type="application/json")
    assert created.status_code == 201
    key = created.json()["key"]

    api = Client(headers={"Authorization": f"Bearer {key}"})
    assert Client(headers={"Authorization": f"Token {key[:-4]}beef"}).get("/api/v1/jobs").status_code == 401
    app = api.post("/api/v1/apps/", data=json.dumps({
        "name": "secret-test", "docker_container": {"image": "nginx", "ports": [80]},
        "marathon_configs": [{"cpu": 0.1, "memory": 64}]}), content_type="application/json").json()
    config_id = app["marathon_configs"][0]["id"]
    response = api.post(f"/api/v1/marathon-configs/{config_id}/deploy", data='{"instances": 1}',
                        content_type="application/json")
    assert response.status_code == 202, response.content
    job = wait_job(response.json()["id"])
    assert job.status == "succeeded", job.last_error
    assert job.requested_by_id == user.pk
    stop = api.post(f"/api/v1/marathon-configs/{config_id}/stop", content_type="application/json")
    assert wait_job(stop.json()["id"]).status == "succeeded"

    web_lines = web_log.getvalue()
    worker_lines = celery_worker.log()
    assert "request" in web_lines and job.marathon_app_id in worker_lines  # both logs did record the deploy
    timeline = json.dumps([[event.type, event.message, event.data]
                           for event in JobEvent.objects.filter(job__requested_by=user)])
    jobs = json.dumps([[j.params, j.result, j.last_error, j.callback_url] for j in Job.objects.filter(requested_by=user)],
                      default=str)
    audit = json.dumps(list(AuditEntry.objects.values_list("summary", "target_id")))
    places = {"web log": web_lines, "captured records": caplog.text, "worker log": worker_lines,
              "job events": timeline, "jobs": jobs, "audit log": audit}
    for place, text in places.items():
        assert key not in text, place
        assert key[4:] not in text, place  # not even without its mrk_ marker
        assert PASSWORD not in text, place
