"""The job pages: action buttons create jobs, the job page and its timeline endpoint, errors in plain words."""
import json

import pytest
from django.test import Client

from shared.models import Job
from shared.services.jobs import job_create, job_fail, job_transition
from tests.api.pages.test_catalog import field_errors

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("action", ["deploy", "stop", "restart", "scale"])
def test_actions_need_a_signed_in_user(client, make_app, action):
    _, config = make_app()
    response = client.post(f"/catalog/configs/{config.pk}/{action}", {f"c{config.pk}-instances": "2"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Job.objects.exists()


@pytest.mark.parametrize("action, params", [
    ("deploy", {"force": False}), ("stop", {"force": False}), ("restart", {"force": False}),
    ("scale", {"force": False, "instances": 3}),
])
def test_actions_record_a_job_and_lead_to_its_page(signed_in, user, make_app, action, params):
    _, config = make_app()
    response = signed_in.post(f"/catalog/configs/{config.pk}/{action}", {f"c{config.pk}-instances": "3"})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/catalog/jobs/{job.pk}"
    assert (job.kind, job.config_id, job.params, job.requested_by) == (action, config.pk, params, user)


def test_actions_accept_only_csrf_protected_posts(user, make_app):
    _, config = make_app()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(f"/catalog/configs/{config.pk}/deploy").status_code == 405
    assert client.post(f"/catalog/configs/{config.pk}/deploy").status_code == 403
    page = client.get(f"/catalog/apps/{config.app.name}").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    assert client.post(f"/catalog/configs/{config.pk}/deploy", {"csrfmiddlewaretoken": token}).status_code == 302
    assert Job.objects.count() == 1


@pytest.mark.parametrize("value, message", [("-1", "greater than or equal to 0"), ("many", "whole number"),
                                            ("1001", "less than or equal to 1000"), ("", "required")])
def test_a_bad_scale_shows_the_error_next_to_the_field(signed_in, make_app, value, message):
    _, config = make_app()
    response = signed_in.post(f"/catalog/configs/{config.pk}/scale", {f"c{config.pk}-instances": value})
    assert response.status_code == 400
    assert message in field_errors(response.content.decode(), f"c{config.pk}-instances")
    assert not Job.objects.exists()


def test_unknown_configurations_and_actions_are_404(signed_in):
    assert signed_in.post("/catalog/configs/999999/deploy").status_code == 404
    assert signed_in.post("/catalog/configs/1/explode").status_code == 404


def test_the_job_page_shows_the_timeline_to_anyone(client, make_app):
    _, config = make_app("timeline-app")
    job, _ = job_create(kind="deploy", config=config, params={"force": False})
    response = client.get(f"/catalog/jobs/{job.pk}")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-job-status="queued"' in html and "Request recorded" in html
    assert f'data-timeline-url="/catalog/jobs/{job.pk}/timeline"' in html and "/static/catalog/job.js" in html
    assert "Cancel this job" not in html  # anonymous
    for bad in ("nope", "00000000-0000-0000-0000-000000000000"):
        assert client.get(f"/catalog/jobs/{bad}").status_code == 404


def test_the_timeline_endpoint_returns_what_is_new(client, make_app):
    _, config = make_app()
    job, _ = job_create(kind="deploy", config=config, params={"force": False})
    first = client.get(f"/catalog/jobs/{job.pk}/timeline", {"after": 0}).json()
    assert first["job"]["status"] == "queued" and first["terminal"] is False
    assert "Request recorded" in first["events_html"] and first["last_event_id"] > 0
    quiet = client.get(f"/catalog/jobs/{job.pk}/timeline", {"after": first["last_event_id"], "wait": 0}).json()
    assert quiet["events_html"].strip() == "" and quiet["last_event_id"] == first["last_event_id"]
    job_transition(job, "queued", "running", message="attempt 1 of 8")
    moved = client.get(f"/catalog/jobs/{job.pk}/timeline", {"after": first["last_event_id"], "wait": 5}).json()
    assert moved["job"]["status"] == "running" and "queued → running" in moved["events_html"]
    assert 'data-job-status="running"' in moved["summary_html"]
    assert client.get(f"/catalog/jobs/{job.pk}/timeline", {"after": "x"}).status_code == 400
    assert client.get("/catalog/jobs/nope/timeline").status_code == 404


def test_a_failed_job_explains_itself_with_marathons_details(client, make_app):
    _, config = make_app()
    job, _ = job_create(kind="deploy", config=config, params={"force": False})
    job_transition(job, "queued", "running")
    details = [{"path": "/cpus", "errors": ["error.min"]}]
    job_fail(job, {"code": "marathon_rejected", "message": "Object is not valid", "retryable": False,
                   "details": details})
    html = client.get(f"/catalog/jobs/{job.pk}").content.decode()
    assert "What went wrong" in html and "Marathon refused the app definition" in html
    assert "Object is not valid" in html and "marathon_rejected" in html and "error.min" in html
    assert 'data-terminal="true"' in html
    body = client.get(f"/catalog/jobs/{job.pk}/timeline").json()
    assert body["terminal"] is True and body["job"]["last_error"]["details"] == details


def test_cancel_needs_a_signed_in_user_and_cancels_a_queued_job(signed_in, make_app):
    _, config = make_app()
    job, _ = job_create(kind="deploy", config=config, params={"force": False})
    anonymous = Client()
    response = anonymous.post(f"/catalog/jobs/{job.pk}/cancel")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "Cancel this job" in signed_in.get(f"/catalog/jobs/{job.pk}").content.decode()
    response = signed_in.post(f"/catalog/jobs/{job.pk}/cancel")
    assert response.status_code == 302 and response["Location"] == f"/catalog/jobs/{job.pk}"
    job.refresh_from_db()
    assert job.status == "cancelled"
    # cancelling a finished job again just shows it
    assert signed_in.post(f"/catalog/jobs/{job.pk}/cancel").status_code == 302


def test_an_import_job_links_to_the_app_it_created(client, make_app):
    app, _ = make_app("imported")
    job, _ = job_create(kind="app_import", params={"image": "org/imported:1"})
    job_transition(job, "queued", "running")
    job_transition(job, "running", "succeeded", result={"app": app.pk, "config": 1})
    html = client.get(f"/catalog/jobs/{job.pk}").content.decode()
    assert f'href="/catalog/apps/{app.pk}" data-imported-app' in html and "org/imported:1" in html
    assert json.loads(json.dumps(client.get(f"/catalog/jobs/{job.pk}/timeline").json()))["terminal"]
