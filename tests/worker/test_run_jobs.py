"""Run jobs through a real worker against metronome_sim: to completion, a failing image, retries, cancel."""
import json

import pytest

from shared.models import Job, JobStatus
from tests.fixtures.descriptors import COMMAND_WITH_PORT, CONTAINER_WITH_ENV, NO_INPUTS, descriptor
from tests.fixtures.jobs import wait_job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(admin_api_client):
    """These tests act as an admin (with an API token); who may do what is tested in test_permissions.py."""
    return admin_api_client


@pytest.fixture
def metronome(metronome_sim, celery_worker):
    return metronome_sim


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def imported(client, desc):
    response = post(client, "/api/v1/apps/import-boutiques", desc)
    assert response.status_code == 201, response.content
    return response.json()["marathon_configs"][0]["id"]


def run(client, config_id, inputs=None):
    response = post(client, f"/api/v1/marathon-configs/{config_id}/run", {"inputs": inputs or {}})
    assert response.status_code == 202, response.content
    return response.json()["id"]


def test_a_run_goes_to_completion_and_records_its_exit_status(admin_client, metronome):
    config_id = imported(admin_client, COMMAND_WITH_PORT)
    job = wait_job(run(admin_client, config_id, {"port": 9000, "bind": "0.0.0.0; id"}))
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    result = job.result
    assert result["status"] == "SUCCESS"
    assert result["exit_status"] == "TASK_FINISHED"
    assert result["command"] == "python -m http.server 9000 --bind '0.0.0.0; id'"
    assert result["run"]["finished_at"]
    assert result["job_id"].startswith("maracker.static-file-server.c")
    types = [event.type for event in job.events.all()]
    assert "scheduler_request" in types


def test_the_scheduler_job_carries_image_environment_and_resources(admin_client, metronome):
    metronome.set_run_seconds(5)
    config_id = imported(admin_client, CONTAINER_WITH_ENV)
    job = wait_job(run(admin_client, config_id, {"input": "in.nii"}), statuses=("waiting",))
    spec = metronome.http.get(f"{metronome.url}/v1/jobs/{job.result['job_id']}", timeout=5).json()
    assert spec["run"]["docker"] == {"image": "example/fsl:6.0"}
    assert spec["run"]["env"] == {"FSLOUTPUTTYPE": "NIFTI_GZ", "FSLDIR": "/opt/fsl"}
    assert spec["run"]["cmd"] == "bet in.nii out.nii.gz"
    assert spec["run"]["restart"] == {"policy": "NEVER"}
    assert spec["run"]["mem"] >= 32


def test_a_failing_image_fails_the_job_with_the_runs_status(admin_client, metronome):
    config_id = imported(admin_client, descriptor(NO_INPUTS, **{"container-image": {"type": "docker",
                                                                                    "image": "example/will-fail"}}))
    job = wait_job(run(admin_client, config_id))
    assert job.status == JobStatus.FAILED
    assert job.last_error["code"] == "run_failed"
    assert "TASK_FAILED" in job.last_error["message"]
    assert job.result["status"] == "FAILED"


def test_scheduler_outages_are_retried_with_back_off(admin_client, metronome):
    config_id = imported(admin_client, NO_INPUTS)
    metronome.fail_next(3, status=503, path_prefix="/v1/jobs")
    job = wait_job(run(admin_client, config_id))
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    assert job.attempts == 4
    retries = [e for e in job.events.all() if e.type == "transition" and e.to_status == "queued"]
    assert len(retries) == 3
    assert all(e.data["error"]["code"] == "scheduler_unavailable" for e in retries)


def test_a_scheduler_down_past_every_attempt_fails_the_job(admin_client, metronome):
    config_id = imported(admin_client, NO_INPUTS)
    metronome.fail_next(100, status=503, path_prefix="/v1/jobs")
    job = wait_job(run(admin_client, config_id), timeout=60)
    assert job.status == JobStatus.FAILED
    assert job.last_error["code"] == "scheduler_unavailable"
    assert "gave up after" in job.last_error["message"]


def test_a_rejected_job_fails_at_once_with_the_schedulers_details(admin_client, metronome):
    config_id = imported(admin_client, NO_INPUTS)
    Job.objects.none()
    from shared.models import MarathonConfig

    MarathonConfig.objects.filter(pk=config_id).update(memory=16)  # below Metronome's minimum of 32
    job = wait_job(run(admin_client, config_id))
    assert job.status == JobStatus.FAILED
    assert job.attempts == 1
    assert job.last_error["code"] == "scheduler_rejected"
    assert job.last_error["details"][0]["path"] == "/run/mem"


def test_cancelling_a_waiting_run_stops_it(admin_client, metronome):
    metronome.set_run_seconds(30)
    config_id = imported(admin_client, NO_INPUTS)
    job_id = run(admin_client, config_id)
    job = wait_job(job_id, statuses=("waiting",))
    assert admin_client.post(f"/api/v1/jobs/{job_id}/cancel").status_code in (200, 202)
    job = wait_job(job_id)
    assert job.status == JobStatus.CANCELLED
    assert metronome.state()["activeRuns"] == 0
