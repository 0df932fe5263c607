"""The watcher's services fed Marathon events directly: correlation, outcomes, runtime state, idempotency."""
import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from shared.marathon.client import MarathonClient
from shared.marathon.types import MarathonEvent, parse_timestamp
from shared.models import Deployment, Job, JobEvent, JobKind, JobStatus
from shared.services import jobs as job_services
from shared.services.watcher import (
    WATCHED_EVENT_TYPES,
    WatcherMemory,
    watcher_handle_event,
    watcher_handle_events,
    watcher_resync,
    watcher_settle_pending,
)
from tests.fixtures.paths import MARATHON_SPEC

pytestmark = pytest.mark.django_db

SPEC_EVENTS = MARATHON_SPEC / "events"
PLAN = "867ed450-f6a8-4d33-9b0e-e11c5513990b"
VERSION = "2026-01-01T10:00:05.000Z"


def spec_payload(name):
    path = SPEC_EVENTS / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    return None


def event(event_type, **fields):
    """A MarathonEvent as the client's stream yields it, from a payload shaped like Marathon's."""
    payload = {"eventType": event_type, "timestamp": "2026-01-01T10:00:06.120Z", **fields}
    raw = json.dumps(payload)
    return MarathonEvent(event_type=event_type, timestamp=parse_timestamp(payload["timestamp"]), data=payload,
                         raw=raw)


def plan(app_id, plan_id=PLAN, version=VERSION, actions=("StartApplication", "ScaleApplication")):
    return {"id": plan_id, "version": version,
            "steps": [{"actions": [{"action": action, "app": app_id}]} for action in actions]}


def deployment_event(event_type, app_id, *, plan_id=PLAN, step=None, reason=None, at="2026-01-01T10:00:06.120Z",
                     version=VERSION):
    the_plan = plan(app_id, plan_id, version)
    fields = {"plan": the_plan, "timestamp": at}
    if event_type in ("deployment_success", "deployment_failed"):
        fields["id"] = plan_id
    else:
        fields["currentStep"] = the_plan["steps"][(step or 1) - 1]
    if reason is not None:
        fields["reason"] = reason
    return event(event_type, **fields)


def status(app_id, task, state, *, at, host="agent-1", ports=(31182,), message=""):
    return event("status_update_event", slaveId="agent-1-S0", taskId=f"{task}._app.1", taskStatus=state,
                 message=message, appId=app_id, host=host, ipAddresses=[], ports=list(ports), version=VERSION,
                 timestamp=at)


def health(app_id, task, alive, *, at):
    return event("health_status_changed_event", appId=app_id, instanceId=task, version=VERSION, alive=alive,
                 timestamp=at)


@pytest.fixture
def waiting_job(make_app):
    """A deploy job Marathon accepted (deployment PLAN), with its deployment row, as the worker leaves it."""
    _, config = make_app()
    marathon_id = job_services.config_marathon_app_id(config)
    job = Job.objects.create(
        kind=JobKind.DEPLOY, status=JobStatus.WAITING, config=config, app=config.app, app_name=config.app.name,
        config_ref=config.pk, marathon_app_id=marathon_id, deployment_id=PLAN, marathon_version=VERSION,
        started_at=timezone.now(), deadline=timezone.now() + timedelta(minutes=10),
    )
    Deployment.objects.create(config=config, app=config.app, marathon_app_id=marathon_id, status="deploying",
                              deployment_id=PLAN, instances=2)
    return job


def deployment_of(job):
    return Deployment.objects.get(marathon_app_id=job.marathon_app_id)


def row_state(job):
    row = deployment_of(job)
    return (row.status, row.tasks_staged, row.tasks_running, row.tasks_healthy, row.tasks_unhealthy, row.tasks,
            row.last_failure, row.last_event_at, row.updated_at)


def test_the_spec_examples_parse_and_unknown_types_are_ignored(waiting_job):
    memory = WatcherMemory()
    for name in WATCHED_EVENT_TYPES:
        payload = spec_payload(name)
        assert payload is not None, name
        marathon_event = MarathonEvent(event_type=name, timestamp=parse_timestamp(payload["timestamp"]),
                                       data=payload, raw=json.dumps(payload))
        result = watcher_handle_event(marathon_event, memory=memory)
        assert result.malformed == 0 and result.handled == 1, name
    result = watcher_handle_events([event("api_post_event", clientIp="::1", uri="/v2/apps/x"),
                                    event("some_future_event")], memory=memory)
    assert result.ignored == 2 and result.handled == 0 and result.malformed == 0


def test_deployment_success_settles_the_waiting_job_with_a_timeline(waiting_job):
    app_id = waiting_job.marathon_app_id
    events = [
        deployment_event("deployment_info", app_id, step=1, at="2026-01-01T10:00:06.000Z"),
        deployment_event("deployment_step_success", app_id, step=1, at="2026-01-01T10:00:06.100Z"),
        deployment_event("deployment_info", app_id, step=2, at="2026-01-01T10:00:06.200Z"),
        status(app_id, "t1", "TASK_STAGING", at="2026-01-01T10:00:06.300Z"),
        status(app_id, "t2", "TASK_STAGING", at="2026-01-01T10:00:06.300Z", host="agent-2", ports=(31001, 31002)),
        status(app_id, "t1", "TASK_RUNNING", at="2026-01-01T10:00:06.400Z"),
        status(app_id, "t2", "TASK_RUNNING", at="2026-01-01T10:00:06.400Z", host="agent-2", ports=(31001, 31002)),
        deployment_event("deployment_step_success", app_id, step=2, at="2026-01-01T10:00:06.500Z"),
        deployment_event("deployment_success", app_id, at="2026-01-01T10:00:06.600Z"),
    ]
    result = watcher_handle_events(events, memory=WatcherMemory())
    assert result.jobs_settled == 1
    job = Job.objects.get(pk=waiting_job.pk)
    assert job.status == "succeeded"
    assert job.result == {"tasks_running": 2, "instances": 2}
    types = [e.type for e in job.events.order_by("at", "id")]
    assert types[:3] == ["deployment_info", "deployment_step_success", "deployment_info"]
    assert types.count("status_update_event") == 4
    assert types.index("deployment_success") < types.index("transition")
    row = deployment_of(job)
    assert row.status == "running" and row.deployment_id == ""
    assert (row.tasks_staged, row.tasks_running) == (0, 2)
    endpoints = sorted(e for task in row.tasks.values() for e in task["endpoints"])
    assert endpoints == ["agent-1:31182", "agent-2:31001", "agent-2:31002"]
    assert row.last_event_at == parse_timestamp("2026-01-01T10:00:06.600Z")


def test_handling_the_same_events_twice_changes_nothing(waiting_job):
    app_id = waiting_job.marathon_app_id
    events = [
        deployment_event("deployment_info", app_id, step=2),
        status(app_id, "t1", "TASK_RUNNING", at="2026-01-01T10:00:06.400Z"),
        health(app_id, "t1", True, at="2026-01-01T10:00:06.450Z"),
        deployment_event("deployment_success", app_id),
    ]
    memory = WatcherMemory()
    for item in events:
        watcher_handle_event(item, memory=memory)
    job = Job.objects.get(pk=waiting_job.pk)
    timeline = list(job.events.values_list("id", "type", "dedupe_key"))
    state = row_state(job)
    for item in events:  # each event a second time, one by one
        result = watcher_handle_event(item, memory=memory)
        assert result.job_events == 0 and result.deployments_updated == 0 and result.jobs_settled == 0
    watcher_handle_events(events + events, memory=memory)  # and all of them again, twice in one batch
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert list(job.events.values_list("id", "type", "dedupe_key")) == timeline
    assert job.events.filter(type="transition", to_status="succeeded").count() == 1
    assert row_state(job) == state


def test_an_older_or_repeated_task_event_does_not_bring_a_task_back(waiting_job):
    app_id = waiting_job.marathon_app_id
    memory = WatcherMemory()
    watcher_handle_events([status(app_id, "t1", "TASK_RUNNING", at="2026-01-01T10:00:07.000Z")], memory=memory)
    watcher_handle_events([status(app_id, "t1", "TASK_STAGING", at="2026-01-01T10:00:06.000Z")], memory=memory)
    row = deployment_of(waiting_job)
    assert row.tasks_running == 1 and row.tasks_staged == 0
    watcher_handle_events([status(app_id, "t1", "TASK_KILLED", at="2026-01-01T10:00:08.000Z")], memory=memory)
    watcher_handle_events([status(app_id, "t1", "TASK_RUNNING", at="2026-01-01T10:00:07.000Z")], memory=memory)
    row = deployment_of(waiting_job)
    assert row.tasks == {} and row.tasks_running == 0


def test_deployment_failed_fails_the_job_with_marathons_reason(waiting_job):
    app_id = waiting_job.marathon_app_id
    failure = "Failed to launch container: pull access denied for example/fail-image"
    watcher_handle_events([
        status(app_id, "t1", "TASK_STAGING", at="2026-01-01T10:00:06.000Z"),
        status(app_id, "t1", "TASK_FAILED", at="2026-01-01T10:00:06.100Z", message=failure),
        deployment_event("deployment_step_failure", app_id, step=2),
        deployment_event("deployment_failed", app_id, reason="Deployment was canceled"),
    ], memory=WatcherMemory())
    job = Job.objects.get(pk=waiting_job.pk)
    assert job.status == "failed"
    assert job.last_error["code"] == "deployment_failed"
    assert "Deployment was canceled" in job.last_error["message"]
    assert job.last_error["details"]["last_task_failure"] == failure
    row = deployment_of(job)
    assert row.status == "failed" and row.last_failure == failure and row.tasks == {}


def test_a_cancelled_job_is_left_to_the_cancellation(waiting_job):
    Job.objects.filter(pk=waiting_job.pk).update(cancel_requested=True)
    watcher_handle_event(deployment_event("deployment_failed", waiting_job.marathon_app_id, reason="canceled"),
                         memory=WatcherMemory())
    job = Job.objects.get(pk=waiting_job.pk)
    assert job.status == "waiting" and job.events.filter(type="deployment_failed").exists()


def test_health_kill_and_termination_shape_the_deployment(waiting_job):
    app_id = waiting_job.marathon_app_id
    memory = WatcherMemory()
    watcher_handle_events([
        status(app_id, "t1", "TASK_RUNNING", at="2026-01-01T10:00:06.000Z"),
        status(app_id, "t2", "TASK_RUNNING", at="2026-01-01T10:00:06.000Z", host="agent-2"),
        health(app_id, "t1", True, at="2026-01-01T10:00:06.100Z"),
        health(app_id, "t2", True, at="2026-01-01T10:00:06.100Z"),
        deployment_event("deployment_success", app_id),
    ], memory=memory)
    assert deployment_of(waiting_job).status == "running"
    watcher_handle_events([
        event("failed_health_check_event", appId=app_id, instanceId="t2", healthCheck={"path": "/"},
              timestamp="2026-01-01T10:00:07.000Z"),
        health(app_id, "t2", False, at="2026-01-01T10:00:07.000Z"),
    ], memory=memory)
    row = deployment_of(waiting_job)
    assert row.status == "unhealthy" and (row.tasks_healthy, row.tasks_unhealthy) == (1, 1)
    watcher_handle_events([
        event("unhealthy_instance_kill_event", appId=app_id, taskId="t2._app.1", instanceId="t2", version=VERSION,
              reason="HTTP request returned status code 503", host="agent-2", slaveId="agent-2-S0",
              timestamp="2026-01-01T10:00:08.000Z"),
        status(app_id, "t2", "TASK_KILLED", at="2026-01-01T10:00:08.100Z", host="agent-2"),
    ], memory=memory)
    row = deployment_of(waiting_job)
    assert "killed as unhealthy: HTTP request returned status code 503" in row.last_failure
    assert row.tasks_running == 1 and row.status == "unhealthy"  # 1 of 2 instances
    watcher_handle_events([status(app_id, "t1", "TASK_KILLED", at="2026-01-01T10:00:09.000Z"),
                           event("app_terminated_event", appId=app_id, timestamp="2026-01-01T10:00:09.100Z")],
                          memory=memory)
    row = deployment_of(waiting_job)
    assert row.status == "stopped" and row.tasks == {} and row.instances == 0


def test_malformed_events_are_logged_and_skipped_and_the_batch_goes_on(waiting_job, caplog):
    app_id = waiting_job.marathon_app_id
    broken = [
        MarathonEvent(event_type="status_update_event", timestamp=None, data={}, raw="{not json",
                      error="Expecting property name"),
        event("status_update_event", appId=app_id, taskStatus="TASK_RUNNING"),  # no taskId
        event("status_update_event", appId=app_id, taskId="x", taskStatus="TASK_RUNNING", ports="31000"),
        event("deployment_success", id=PLAN, plan="not an object"),
        event("deployment_info", plan={"id": PLAN, "steps": "nope"}, currentStep={}),
        event("health_status_changed_event", appId=app_id, instanceId="t1", alive="yes"),
        MarathonEvent(event_type="deployment_success", timestamp=None, data={"id": PLAN}, raw="{}"),
    ]
    with caplog.at_level(logging.WARNING, logger="shared.services.watcher"):
        result = watcher_handle_events(broken + [deployment_event("deployment_success", app_id)],
                                       memory=WatcherMemory())
    assert result.malformed == len(broken) and result.handled == 1
    assert len([r for r in caplog.records if "malformed" in r.getMessage()]) == len(broken)
    assert Job.objects.get(pk=waiting_job.pk).status == "succeeded"


def test_a_job_without_the_deployment_id_is_found_by_app_and_version(waiting_job):
    Job.objects.filter(pk=waiting_job.pk).update(deployment_id="")
    Deployment.objects.filter(marathon_app_id=waiting_job.marathon_app_id).update(deployment_id="")
    watcher_handle_event(deployment_event("deployment_success", waiting_job.marathon_app_id),
                         memory=WatcherMemory())
    assert Job.objects.get(pk=waiting_job.pk).status == "succeeded"
    other = deployment_event("deployment_success", waiting_job.marathon_app_id, plan_id="another",
                             version="2026-01-01T11:00:00.000Z")
    assert watcher_handle_event(other, memory=WatcherMemory()).job_events == 0


def test_an_outcome_that_comes_before_the_job_is_waiting_is_applied_once_it_is(waiting_job):
    # Marathon finished before the worker committed its answer: the job is still running, without the id.
    Job.objects.filter(pk=waiting_job.pk).update(status=JobStatus.RUNNING, deployment_id="", marathon_version="")
    memory = WatcherMemory()
    watcher_handle_event(deployment_event("deployment_success", waiting_job.marathon_app_id), memory=memory)
    assert PLAN in memory.pending
    assert watcher_settle_pending(memory) == 0
    job = Job.objects.get(pk=waiting_job.pk)
    job_services.job_mark_waiting(job, deployment_id=PLAN, version=VERSION)
    assert watcher_settle_pending(memory) == 1
    assert Job.objects.get(pk=waiting_job.pk).status == "succeeded" and not memory.pending


def test_events_of_apps_maracker_does_not_know_touch_nothing(waiting_job):
    result = watcher_handle_events([
        status("/someone/else", "z1", "TASK_RUNNING", at="2026-01-01T10:00:06.000Z"),
        deployment_event("deployment_success", "/someone/else", plan_id="foreign"),
    ], memory=WatcherMemory())
    assert result.handled == 2 and result.deployments_updated == 0 and result.job_events == 0
    assert JobEvent.objects.filter(job=waiting_job).count() == 0


def test_resync_settles_what_finished_while_nobody_listened(marathon_sim, make_app):
    marathon_sim.set_step_seconds(0)
    _, config = make_app()
    marathon_id = job_services.config_marathon_app_id(config)
    with MarathonClient(marathon_sim.url) as client:
        accepted = client.create_or_replace_app({
            "id": marathon_id, "cpus": 0.1, "mem": 32, "instances": 2,
            "container": {"type": "DOCKER", "docker": {"image": "nginx"}},
        })
        marathon_sim.wait_deployed(marathon_id)
        job = Job.objects.create(
            kind=JobKind.DEPLOY, status=JobStatus.WAITING, config=config, app=config.app,
            marathon_app_id=marathon_id, deployment_id=accepted.deployment_id, marathon_version=accepted.version,
            deadline=timezone.now() + timedelta(minutes=10),
        )
        Deployment.objects.create(config=config, app=config.app, marathon_app_id=marathon_id, status="deploying",
                                  deployment_id=accepted.deployment_id, instances=2)
        gone = Deployment.objects.create(marathon_app_id="/maracker/gone/1", status="running", instances=1)
        counts = watcher_resync(client)
    assert counts["settled"] == 1 and counts["stopped"] == 1
    job.refresh_from_db()
    assert job.status == "succeeded"
    row = Deployment.objects.get(marathon_app_id=marathon_id)
    assert row.status == "running" and row.tasks_running == 2
    gone.refresh_from_db()
    assert gone.status == "stopped"
