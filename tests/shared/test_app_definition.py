"""The Marathon app definition builder: every ancestor bug fixed, and every output valid for Marathon."""
import json
import re
import string
from decimal import Decimal

import jsonschema
import pytest
from hypothesis import given, settings as hyp_settings
from hypothesis import strategies as st

from shared.app_definition import (
    AppSpec,
    DefinitionSettings,
    NotDeployable,
    build_app_definition,
    marathon_app_id,
    public_url,
    router_name,
)
from tests.fixtures.paths import MARATHON_SPEC

SPEC_DIR = MARATHON_SPEC
APP_SCHEMA = json.loads((SPEC_DIR / "AppDefinition.json").read_text())
# Marathon shipped a draft-4 schema (tuple-form "items"), as the conformance kit also reads it.
APP_VALIDATOR = jsonschema.Draft4Validator(APP_SCHEMA)
ID_SEGMENT = re.compile(r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$")


def spec(**overrides):
    values = dict(app_name="nginx-test", config_id=7, cpu=Decimal("1"), memory=64, image="nginx", ports=(80,))
    values.update(overrides)
    return AppSpec(**values)


def validate(definition):
    APP_VALIDATOR.validate(definition)
    for segment in definition["id"].strip("/").split("/"):
        assert ID_SEGMENT.match(segment), segment


def test_container_app_uses_bridge_networking_with_a_mapping_per_port():
    definition = build_app_definition(spec(ports=(80, 443)))
    validate(definition)
    assert definition["id"] == "/maracker/nginx-test/7"
    assert definition["networks"] == [{"mode": "container/bridge"}]
    assert definition["container"]["type"] == "DOCKER"
    assert definition["container"]["docker"]["image"] == "nginx"
    assert [m["containerPort"] for m in definition["container"]["portMappings"]] == [80, 443]
    assert all(m["hostPort"] == 0 for m in definition["container"]["portMappings"])
    assert "cmd" not in definition and "args" not in definition


def test_marathon_14_gets_the_old_network_form():
    definition = build_app_definition(spec(), DefinitionSettings(api_version="1.4"))
    validate(definition)
    assert "networks" not in definition
    assert definition["container"]["docker"]["network"] == "BRIDGE"
    assert definition["container"]["docker"]["portMappings"][0]["containerPort"] == 80


def test_ancestor_bug_command_and_args_are_joined_and_quoted():
    definition = build_app_definition(spec(command="python app.py", args=("--name", "two words", "a;rm -rf /")))
    validate(definition)
    assert definition["cmd"] == "python app.py --name 'two words' 'a;rm -rf /'"
    assert "args" not in definition


def test_ancestor_bug_container_app_with_command_gets_cmd_only():
    definition = build_app_definition(spec(command="nginx -g 'daemon off;'"))
    assert definition["cmd"] == "nginx -g 'daemon off;'"
    assert "args" not in definition


def test_ancestor_bug_container_app_without_command_gets_args_list():
    definition = build_app_definition(spec(args=("--port", "8080")))
    validate(definition)
    assert definition["args"] == ["--port", "8080"]
    assert "cmd" not in definition


def test_command_only_app_runs_on_host_network_with_port0():
    definition = build_app_definition(spec(image="", ports=(), command="python -m http.server $PORT0"))
    validate(definition)
    assert definition["cmd"] == "python -m http.server $PORT0"
    assert "container" not in definition
    assert definition["portDefinitions"][0]["port"] == 0
    assert definition["healthChecks"][0]["portIndex"] == 0


def test_app_with_neither_image_nor_command_is_not_deployable():
    with pytest.raises(NotDeployable):
        build_app_definition(spec(image="", ports=(), command=""))


def test_health_check_on_first_port_with_configurable_path():
    definition = build_app_definition(spec(ports=(5000, 80), health_check_path="/health"))
    check = definition["healthChecks"][0]
    assert check == {**check, "protocol": "HTTP", "path": "/health", "portIndex": 0}
    assert "healthChecks" not in build_app_definition(spec(health_check_path=""))
    assert "healthChecks" not in build_app_definition(spec(ports=()))


def test_env_labels_and_instances():
    definition = build_app_definition(spec(env_vars={"A": "1"}, labels={"team": "x"}, instances=3))
    assert definition["env"] == {"A": "1"}
    assert definition["instances"] == 3
    assert definition["labels"]["team"] == "x"
    assert definition["labels"]["maracker.app"] == "nginx-test"
    assert definition["labels"]["maracker.config"] == "7"


def test_host_exposure_labels_for_traefik_v1_and_v2():
    conf = DefinitionSettings(exposure="host", base_domain="example.org", traefik="both")
    labels = build_app_definition(spec(), conf)["labels"]
    assert labels["traefik.frontend.rule"] == "Host:nginx-test-7.example.org"
    assert labels["traefik.backend"] == "maracker-nginx-test-7"
    assert labels["traefik.portIndex"] == "0"
    assert "traefik.port" not in labels
    assert labels["traefik.http.routers.maracker-nginx-test-7.rule"] == "Host(`nginx-test-7.example.org`)"
    assert not any(key.endswith("loadbalancer.server.port") for key in labels)
    assert public_url(spec(), conf) == "http://nginx-test-7.example.org/"


def test_path_exposure_strips_the_prefix():
    conf = DefinitionSettings(exposure="path", base_domain="example.org", traefik="both", scheme="https")
    labels = build_app_definition(spec(), conf)["labels"]
    assert labels["traefik.frontend.rule"] == "PathPrefixStrip:/apps/nginx-test/7"
    router = "maracker-nginx-test-7"
    assert labels[f"traefik.http.middlewares.{router}-strip.stripprefix.prefixes"] == "/apps/nginx-test/7"
    assert labels[f"traefik.http.routers.{router}.middlewares"] == f"{router}-strip"
    assert public_url(spec(), conf) == "https://example.org/apps/nginx-test/7/"


def test_only_v1_or_only_v2_labels_and_marathon_lb():
    v1 = build_app_definition(spec(), DefinitionSettings(traefik="v1"))["labels"]
    v2 = build_app_definition(spec(), DefinitionSettings(traefik="v2", marathon_lb=True))["labels"]
    assert "traefik.frontend.rule" in v1 and not any(k.startswith("traefik.http.") for k in v1)
    assert "traefik.frontend.rule" not in v2 and any(k.startswith("traefik.http.") for k in v2)
    assert v2["HAPROXY_0_VHOST"] == "nginx-test-7.apps.localhost"


def test_ancestor_bug_router_names_do_not_collide():
    assert router_name("web", 12) != router_name("web1", 2)
    a = build_app_definition(spec(app_name="web", config_id=12))
    b = build_app_definition(spec(app_name="web1", config_id=2))
    assert a["id"] != b["id"]
    assert set(k for k in a["labels"] if "routers" in k).isdisjoint(k for k in b["labels"] if "routers" in k)


def test_marathon_id_is_stable_and_under_the_group():
    assert marathon_app_id("a", 1, "/teams/x") == "/teams/x/a/1"
    assert build_app_definition(spec(), DefinitionSettings(group="/g"))["id"] == "/g/nginx-test/7"


names = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?\Z", fullmatch=True)
images = st.sampled_from(["nginx", "nginx:1.27", "ghcr.io/org/app:v1", "localhost:5000/a/b@sha256:" + "a" * 64, ""])
env_names = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,20}\Z", fullmatch=True)
text = st.text(alphabet=string.printable, max_size=30)


@hyp_settings(max_examples=200, deadline=None)
@given(
    name=names,
    config_id=st.integers(min_value=1, max_value=10**9),
    cpu=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("64"), places=3),
    memory=st.integers(min_value=32, max_value=1048576),
    instances=st.integers(min_value=0, max_value=1000),
    image=images,
    ports=st.lists(st.integers(min_value=1, max_value=65535), unique=True, max_size=5),
    command=st.one_of(st.just(""), text.filter(lambda s: len(s.strip()) >= 2)),
    args=st.lists(text, max_size=4),
    env=st.dictionaries(env_names, text, max_size=4),
    labels=st.dictionaries(text, text, max_size=4),
    exposure=st.sampled_from(["host", "path"]),
    traefik=st.sampled_from(["v1", "v2", "both", "none"]),
    api_version=st.sampled_from(["1.4", "1.5"]),
    path=st.sampled_from(["/", "/health", ""]),
)
def test_every_definition_validates_against_marathons_schema(
    name, config_id, cpu, memory, instances, image, ports, command, args, env, labels, exposure, traefik,
    api_version, path,
):
    if not image and not command.strip():
        command = "python -m http.server $PORT0"
    app = AppSpec(app_name=name, config_id=config_id, cpu=cpu, memory=memory, instances=instances, image=image,
                  ports=tuple(ports) if image else (), command=command, args=tuple(args), env_vars=env,
                  labels=labels, health_check_path=path)
    conf = DefinitionSettings(exposure=exposure, traefik=traefik, api_version=api_version)
    definition = build_app_definition(app, conf)
    validate(definition)
    assert not ("cmd" in definition and "args" in definition)
