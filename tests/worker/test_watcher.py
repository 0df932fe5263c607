"""The watcher as a real process, with a real worker that does not poll, against the simulator and its faults."""
import json
import time

import pytest
import redis
from django.conf import settings

from shared.models import Deployment, Job
from shared.selectors.health import WATCHER_HEALTH_KEY
from tests.fixtures.celery_worker import start_worker
from tests.fixtures.jobs import wait_job
from tests.fixtures.processes import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(admin_api_client):
    """These tests act as an admin (with an API token); who may do what is tested in test_permissions.py."""
    return admin_api_client


# Jobs of this module go to a queue of their own, served by a worker with JOB_WORKER_POLLING=false: no other
# worker of the session (the polling one of the job tests) can settle them.
WATCH_QUEUE = "deploy-watch"


@pytest.fixture(scope="module")
def watch_worker(django_db_setup, django_db_blocker, marathon_sim_server, tmp_path_factory):
    from worker.celery import app

    routes = app.conf.task_routes
    app.conf.update(task_routes={**routes, "maracker.jobs.*": {"queue": WATCH_QUEUE}})
    redis.Redis.from_url(settings.REDIS_URL).delete(WATCH_QUEUE)
    with django_db_blocker.unblock():
        handle = start_worker(str(tmp_path_factory.mktemp("watch-worker")), marathon_sim_server.url,
                              queues=WATCH_QUEUE, JOB_WORKER_POLLING="false")
    yield handle
    handle.stop()
    app.conf.update(task_routes=routes)


@pytest.fixture
def sim(marathon_sim, watch_worker):
    redis.Redis.from_url(settings.REDIS_URL).delete(WATCHER_HEALTH_KEY)
    return marathon_sim


def deploy(client, config, body=None):
    response = client.post(f"/api/v1/marathon-configs/{config.pk}/deploy", data=json.dumps(body or {}),
                           content_type="application/json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def timeline(job):
    return [(e.type, e.to_status, e.message) for e in job.events.order_by("at", "id")]


def watcher_health():
    raw = redis.Redis.from_url(settings.REDIS_URL).get(WATCHER_HEALTH_KEY)
    return json.loads(raw) if raw else None


def wait_until(predicate, timeout=30.0, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{message} not reached within {timeout}s")


def test_a_deploy_is_settled_by_events_alone(client, sim, make_app, watcher_process):
    watcher = watcher_process(sim.url)
    watcher.wait_active()
    _, config = make_app(ports=(80, 443))
    sim.clear_received()
    job = wait_job(deploy(client, config, {"instances": 2}))
    assert job.status == "succeeded", timeline(job)
    types = [entry[0] for entry in timeline(job)]
    assert "deployment_success" in types and "status_update_event" in types
    assert types.index("deployment_success") < len(types) - 1 and timeline(job)[-1][1] == "succeeded"
    assert "finished; 2/2 running" in timeline(job)[-1][2]
    # Nobody asked Marathon about the app: the worker does not poll and the watcher only listened.
    assert sim.request_count(f"/v2/apps{job.marathon_app_id}", "GET") == 0
    deployment = wait_until(
        lambda: Deployment.objects.filter(marathon_app_id=job.marathon_app_id, status="running",
                                          tasks_running=2).first(), message="deployment running")
    endpoints = [e for task in deployment.tasks.values() for e in task["endpoints"]]
    assert len(endpoints) == 4 and all(":" in e for e in endpoints)
    assert deployment.last_event_at is not None
    health = wait_until(lambda: (watcher_health() or {}).get("events_total") and watcher_health(),
                        message="health with events")
    assert health["connected"] is True and health["active"] is True and health["last_event_at"]
    assert health["lag_seconds"] is not None and "events_per_second" in health
    body = client.get("/readyz").json()
    assert body["checks"]["watcher"]["connected"] is True and body["checks"]["watcher"]["known"] is True


def test_the_stream_dropped_mid_deployment_is_caught_up_by_a_resync(client, sim, make_app, watcher_process):
    watcher = watcher_process(sim.url)
    watcher.wait_active()
    sim.set_step_seconds(0.3)
    _, config = make_app()
    job_id = deploy(client, config)
    job = wait_job(job_id, "waiting")
    sim.pause_events()  # what happens from here on is never delivered to this connection
    sim.wait_deployed(job.marathon_app_id)
    assert Job.objects.get(pk=job_id).status == "waiting"
    assert sim.drop_streams() >= 1
    job = wait_job(job_id)
    assert job.status == "succeeded", timeline(job)
    assert "deployment_success" not in [entry[0] for entry in timeline(job)]  # that event was lost
    assert watcher.resyncs() >= 2
    assert wait_until(lambda: (watcher_health() or {}).get("reconnects", 0) >= 1, message="a reconnect")
    assert Deployment.objects.get(marathon_app_id=job.marathon_app_id).status == "running"
    sim.resume_events()


def test_a_watcher_started_after_a_whole_deployment_brings_the_job_to_the_truth(client, sim, make_app,
                                                                                   watcher_process):
    _, config = make_app()
    job_id = deploy(client, config, {"instances": 2})
    job = wait_job(job_id, "waiting")
    sim.wait_deployed(job.marathon_app_id)
    time.sleep(0.5)
    assert Job.objects.get(pk=job_id).status == "waiting"  # nobody is listening and nobody polls
    watcher = watcher_process(sim.url)
    job = wait_job(job_id)
    assert job.status == "succeeded", timeline(job)
    watcher.wait_active()
    deployment = Deployment.objects.get(marathon_app_id=job.marathon_app_id)
    assert deployment.status == "running" and deployment.tasks_running == 2


def test_a_leader_change_and_an_unreachable_first_url(client, sim, make_app, watcher_process):
    dead = f"http://127.0.0.1:{free_port()}"
    watcher = watcher_process(f"{dead},{sim.url}")
    watcher.wait_active()
    assert f"{dead} unreachable" in watcher.log()  # tried first, then the next URL
    sim.set_step_seconds(0.3)
    _, config = make_app()
    job_id = deploy(client, config)
    wait_job(job_id, "waiting")
    sim.leader_change()
    job = wait_job(job_id)
    assert job.status == "succeeded", timeline(job)
    watcher.wait_log("resynced with", count=2)
    assert wait_until(lambda: (watcher_health() or {}).get("reconnects", 0) >= 1, message="a reconnect")
    assert watcher_health()["url"] == sim.url


def test_two_watchers_one_active_the_other_takes_over_when_it_is_killed(client, sim, make_app, watcher_process):
    first = watcher_process(sim.url)
    first.wait_active()
    second = watcher_process(sim.url)
    second.wait_log("another watcher is active; standing by")
    assert "active (holds the leader lock)" not in second.log()
    first.kill()
    # The requirement: the standby takes over within 10 s of the active one's death.
    second.wait_log("active (holds the leader lock)", timeout=10)
    second.wait_log("resynced with")
    assert wait_until(lambda: (watcher_health() or {}).get("watcher", "").endswith(f":{second.pid}"),
                      message="the second watcher reporting")
    _, config = make_app()
    job = wait_job(deploy(client, config))
    assert job.status == "succeeded", timeline(job)
    assert "deployment_success" in [entry[0] for entry in timeline(job)]


def test_a_task_that_keeps_failing_shows_its_failure_on_the_deployment(client, sim, make_app, watcher_process):
    watcher = watcher_process(sim.url)
    watcher.wait_active()
    sim.set_step_seconds(0.05)
    _, config = make_app(image="example/fail-on-start")
    job_id = deploy(client, config)
    job = wait_job(job_id, "waiting")
    deployment = wait_until(
        lambda: Deployment.objects.filter(marathon_app_id=job.marathon_app_id,
                                          last_failure__contains="pull access denied").first(),
        message="the task failure on the deployment")
    assert "example/fail-on-start" in deployment.last_failure
    assert deployment.status == "deploying" and deployment.tasks_running == 0
    failures = Job.objects.get(pk=job_id).events.filter(type="status_update_event",
                                                        data__state="TASK_FAILED")
    assert failures.exists() and "pull access denied" in failures.first().message
    assert Job.objects.get(pk=job_id).status == "waiting"  # Marathon keeps retrying; the deadline decides
