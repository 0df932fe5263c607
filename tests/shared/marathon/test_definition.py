"""App ids and definitions built from the marathon package's models."""
import pytest
from marathon.models import MarathonApp, MarathonHealthCheck
from marathon.models.container import MarathonContainer, MarathonContainerPortMapping, MarathonDockerContainer

from shared.marathon.definition import canonical_app_id, definition_body, definition_from_model
from shared.marathon.errors import MarathonRejected


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("web", "/web"), ("/prod/web/", "/prod/web"), ("a//b/./c/../d", "/a/b/d"), ("v1.2.web", "/v1.2.web"), ("0", "/0")],
)
def test_canonical_ids(raw, canonical):
    assert canonical_app_id(raw) == canonical


@pytest.mark.parametrize("raw", ["Web", "my_app", "my app", "-a", "a-", "a..b", "/", "", "a/restart", "x/tasks"])
def test_invalid_ids_are_rejected_on_the_id_path(raw):
    with pytest.raises(MarathonRejected) as caught:
        canonical_app_id(raw)
    assert caught.value.details[0]["path"] == "/id"


def test_definition_from_package_models_keeps_zero_ports_and_empty_env_values():
    app = MarathonApp(
        id="/maracker/web/1",
        instances=0,
        args=["--port", "80"],
        container=MarathonContainer(
            type="DOCKER",
            docker=MarathonDockerContainer(image="nginx:1.27"),
            port_mappings=[MarathonContainerPortMapping(container_port=80, host_port=0)],
        ),
        networks=[{"mode": "container/bridge"}],
        env={"EMPTY": "", "A": "1"},
        labels={"traefik.frontend.rule": "Host:web.example.com"},
        health_checks=[MarathonHealthCheck(protocol="HTTP", path="/", port_index=0)],
    )
    definition = definition_from_model(app)
    assert definition["instances"] == 0
    assert definition["container"]["portMappings"] == [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}]
    assert definition["container"]["docker"]["image"] == "nginx:1.27"
    assert definition["env"] == {"EMPTY": "", "A": "1"}
    assert definition["healthChecks"] == [{"protocol": "HTTP", "path": "/", "portIndex": 0}]
    assert "tasks" not in definition and "version" not in definition


def test_definition_body_drops_read_only_fields_and_canonicalises_the_id():
    app_id, body = definition_body(
        {"id": "prod/web/", "cmd": "sleep 1", "tasks": [], "tasksRunning": 1, "deployments": [], "version": "v"}
    )
    assert app_id == "/prod/web"
    assert body == {"id": "/prod/web", "cmd": "sleep 1"}


def test_definition_without_id_is_rejected():
    with pytest.raises(MarathonRejected):
        definition_body({"cmd": "sleep 1"})
