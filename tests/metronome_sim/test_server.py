"""metronome_sim's own behaviour: run timing by --run-seconds, history, validation, faults, control API."""
import time

import pytest
import requests


JOB = {"id": "demo.job", "run": {"cpus": 0.1, "mem": 32, "disk": 0, "docker": {"image": "busybox"}}}


@pytest.fixture
def sim(metronome_sim):
    return metronome_sim


def url(sim, path):
    return sim.url + path


def test_a_run_goes_through_metronomes_states_then_to_history(sim):
    sim.set_run_seconds(1.0)
    assert requests.post(url(sim, "/v1/jobs"), json=JOB, timeout=5).status_code == 201
    run = requests.post(url(sim, "/v1/jobs/demo.job/runs"), timeout=5).json()
    seen = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = requests.get(url(sim, f"/v1/jobs/demo.job/runs/{run['id']}"), timeout=5)
        if response.status_code == 404:
            break
        seen.add(response.json()["status"])
        time.sleep(0.02)
    assert {"STARTING", "ACTIVE"} <= seen and seen <= {"INITIAL", "STARTING", "ACTIVE"}
    history = requests.get(url(sim, "/v1/jobs/demo.job?embed=history"), timeout=5).json()["history"]
    assert history["successCount"] == 1 and history["successfulFinishedRuns"][0]["id"] == run["id"]


def test_validation_conflicts_and_missing_jobs(sim):
    bad = requests.post(url(sim, "/v1/jobs"), json={"id": "Bad_Id", "run": {"cpus": 0.1, "mem": 1}}, timeout=5)
    assert bad.status_code == 422
    assert {d["path"] for d in bad.json()["details"]} >= {"/id", "/run/mem", "/run/disk"}
    assert requests.post(url(sim, "/v1/jobs"), json=JOB, timeout=5).status_code == 201
    assert requests.post(url(sim, "/v1/jobs"), json=JOB, timeout=5).status_code == 409
    assert requests.get(url(sim, "/v1/jobs/none"), timeout=5).status_code == 404
    assert requests.put(url(sim, "/v1/jobs/none"), json={**JOB, "id": "none"}, timeout=5).status_code == 404


def test_fail_next_and_reset(sim):
    sim.fail_next(2, status=503, path_prefix="/v1/")
    assert requests.get(url(sim, "/v1/jobs"), timeout=5).status_code == 503
    assert requests.get(url(sim, "/ping"), timeout=5).status_code == 200  # outside the prefix
    assert requests.get(url(sim, "/v1/jobs"), timeout=5).status_code == 503
    assert requests.get(url(sim, "/v1/jobs"), timeout=5).status_code == 200
    requests.post(url(sim, "/v1/jobs"), json=JOB, timeout=5)
    sim.reset()
    assert sim.state()["jobs"] == []


def test_an_image_containing_fail_fails_and_zero_run_seconds_is_immediate(sim):
    sim.set_run_seconds(0)
    requests.post(url(sim, "/v1/jobs"), json={**JOB, "run": {**JOB["run"], "docker": {"image": "x/fail"}}}, timeout=5)
    run = requests.post(url(sim, "/v1/jobs/demo.job/runs"), timeout=5).json()
    assert run["status"] == "FAILED" and run["tasks"][0]["status"] == "TASK_FAILED"
    history = requests.get(url(sim, "/v1/jobs/demo.job?embed=history&embed=activeRuns"), timeout=5).json()
    assert history["activeRuns"] == [] and history["history"]["failureCount"] == 1
