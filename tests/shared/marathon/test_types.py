"""Typed Marathon results built from Marathon's own example payloads."""
import json
from datetime import datetime, timezone

import pytest

from shared.marathon.types import MarathonAppInfo, MarathonDeployment, MarathonInfo, MarathonTask
from tests.fixtures.paths import MARATHON_SPEC

SPEC = MARATHON_SPEC
needs_spec = pytest.mark.skipif(not SPEC.is_dir(), reason="Marathon spec folder not present")


def test_app_info_from_marathon_app_object():
    app = MarathonAppInfo.from_json(
        {
            "id": "/prod/web",
            "version": "2026-01-01T10:00:05.000Z",
            "instances": 2,
            "cmd": "sleep 100",
            "labels": {"a": "b"},
            "tasksRunning": 1,
            "tasksStaged": 1,
            "tasksHealthy": 1,
            "tasksUnhealthy": 0,
            "deployments": [{"id": "d-1"}],
            "lastTaskFailure": {"message": "pull failed", "timestamp": "2026-01-01T10:00:06.000Z"},
            "tasks": [
                {
                    "id": "prod_web.instance-1._app.1",
                    "appId": "/prod/web",
                    "host": "agent-1",
                    "ports": [31001],
                    "state": "TASK_RUNNING",
                    "stagedAt": "2026-01-01T10:00:05.100Z",
                    "startedAt": "2026-01-01T10:00:06.100Z",
                    "version": "2026-01-01T10:00:05.000Z",
                    "slaveId": "s-1",
                    "healthCheckResults": [{"alive": True}],
                    "checkResult": {"http": {"statusCode": 200}},
                }
            ],
        }
    )
    assert app.id == "/prod/web"
    assert (app.instances, app.tasks_running, app.tasks_staged, app.tasks_healthy) == (2, 1, 1, 1)
    assert app.deployment_ids == ("d-1",) and app.deploying
    assert app.last_task_failure == "pull failed"
    assert app.last_task_failure_at == datetime(2026, 1, 1, 10, 0, 6, tzinfo=timezone.utc)
    assert "tasks" not in app.definition and "deployments" not in app.definition
    assert app.definition["cmd"] == "sleep 100" and app.labels == {"a": "b"}
    task = app.tasks[0]
    assert task.endpoints == ("agent-1:31001",)
    assert task.healthy is True and task.state == "TASK_RUNNING" and task.agent_id == "s-1"
    assert task.started_at.tzinfo is not None


def test_task_health_unknown_without_checks_and_false_when_one_fails():
    assert MarathonTask.from_json({"id": "t"}).healthy is None
    results = [{"alive": True}, {"alive": False}]
    assert MarathonTask.from_json({"id": "t", "healthCheckResults": results}).healthy is False


@needs_spec
def test_deployment_from_marathon_example():
    payload = json.loads((SPEC / "examples" / "deployments.json").read_text())
    deployment = MarathonDeployment.from_json(payload[0])
    assert deployment.id == "97c136bf-5a28-4821-9d94-480d9fbb01c8"
    assert deployment.affected_apps == ("/foo",)
    assert (deployment.current_step, deployment.total_steps) == (1, 1)
    assert deployment.current_actions[0].action == "ScaleApplication"
    assert deployment.current_actions[0].app == "/foo"
    assert deployment.steps[1][0].app == "/bla"  # a pod action names the pod


@needs_spec
def test_info_from_marathon_example():
    info = MarathonInfo.from_json(json.loads((SPEC / "examples" / "info.json").read_text()))
    assert (info.name, info.leader, info.elected) == ("marathon", "localhost:8080", True)


def test_types_are_frozen():
    task = MarathonTask.from_json({"id": "t"})
    with pytest.raises(AttributeError):
        task.id = "other"
