"""Bad input of every kind: each answered 4xx as a problem naming the field, with the database unchanged."""
import json

import pytest

from shared.models import App, DockerContainer, MarathonConfig
from shared.services.catalog import app_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(admin_api_client):
    """These tests act as an admin (with an API token); who may do what is tested in test_permissions.py."""
    return admin_api_client


PROBLEM = "application/problem+json"
CREATE = ("post", "/api/v1/apps/")


class Raw(str):
    """A body sent as these exact bytes rather than JSON-encoded."""


def app(**changes):
    body = {"name": "new-app", "docker_container": {"image": "nginx", "ports": [80]},
            "marathon_configs": [{"cpu": 1, "memory": 64}]}
    body.update(changes)
    return body


def container(**changes):
    return app(docker_container=dict({"image": "nginx", "ports": [80]}, **changes))


def config(**changes):
    return app(marathon_configs=[dict({"cpu": 1, "memory": 64}, **changes)])


def without(key):
    def drop(body):
        body = json.loads(json.dumps(body))
        del body["marathon_configs"][0][key]
        return body
    return drop(config())


# (id, method, url, body, expected status, the field path the problem must name)
CASES = [
    ("null body", *CREATE, None, 400, "body"),
    ("top-level array", *CREATE, [app()], 400, "body"),
    ("top-level string", *CREATE, "nginx", 400, "body"),
    ("top-level number", *CREATE, 42, 400, "body"),
    ("malformed json", *CREATE, Raw('{"name": '), 400, "body"),
    ("NaN literal", *CREATE, Raw('{"name": NaN}'), 400, "body"),
    ("name missing", *CREATE, {"docker_container": {"image": "nginx"}}, 400, "name"),
    ("name null", *CREATE, app(name=None), 400, "name"),
    ("name number", *CREATE, app(name=123), 400, "name"),
    ("name list", *CREATE, app(name=["web"]), 400, "name"),
    ("name empty", *CREATE, app(name=""), 400, "name"),
    ("name upper-case", *CREATE, app(name="Nginx"), 400, "name"),
    ("name underscore", *CREATE, app(name="nginx_test"), 400, "name"),
    ("name dot", *CREATE, app(name="nginx.test"), 400, "name"),
    ("name 300 chars", *CREATE, app(name="a" * 300), 400, "name"),
    ("name 51 chars", *CREATE, app(name="a" * 51), 400, "name"),
    ("name leading dash", *CREATE, app(name="-web"), 400, "name"),
    ("name trailing dash", *CREATE, app(name="web-"), 400, "name"),
    ("name unicode", *CREATE, app(name="ñginx"), 400, "name"),
    ("name space", *CREATE, app(name="web app"), 400, "name"),
    ("name lone surrogate", *CREATE, Raw('{"name": "web\\ud800"}'), 400, "name"),
    ("description number", *CREATE, app(description=5), 400, "description"),
    ("description NUL", *CREATE, app(description="a\u0000b"), 400, "description"),
    ("command object", *CREATE, app(command={"run": "x"}), 400, "command"),
    ("vcs_url not a url", *CREATE, app(vcs_url="not a url"), 400, "vcs_url"),
    ("vcs_url javascript", *CREATE, app(vcs_url="javascript:alert(1)"), 400, "vcs_url"),
    ("labels string", *CREATE, app(labels="team=web"), 400, "labels"),
    ("labels number value", *CREATE, app(labels={"replicas": 1}), 400, "labels"),
    ("labels lone surrogate", *CREATE, Raw('{"name": "x", "labels": {"k": "\\udc00"}}'), 400, "labels"),
    ("container string", *CREATE, app(docker_container="nginx"), 400, "docker_container"),
    ("container without image", *CREATE, app(docker_container={"ports": [80]}), 400, "docker_container.image"),
    ("container type rkt", *CREATE, container(type="rkt"), 400, "docker_container.type"),
    ("image nginx:", *CREATE, container(image="nginx:"), 400, "docker_container.image"),
    ("image UPPER/case", *CREATE, container(image="UPPER/case"), 400, "docker_container.image"),
    ("image a//b", *CREATE, container(image="a//b"), 400, "docker_container.image"),
    ("image empty", *CREATE, container(image=""), 400, "docker_container.image"),
    ("image number", *CREATE, container(image=5), 400, "docker_container.image"),
    ("image tag 129 chars", *CREATE, container(image="nginx:" + "t" * 129), 400, "docker_container.image"),
    ("image short digest", *CREATE, container(image="nginx@sha256:abc"), 400, "docker_container.image"),
    ("image spaces", *CREATE, container(image="nginx latest"), 400, "docker_container.image"),
    ("port 0", *CREATE, container(ports=[0]), 400, "docker_container.ports"),
    ("port 65536", *CREATE, container(ports=[65536]), 400, "docker_container.ports"),
    ("port huge", *CREATE, container(ports=[10**40]), 400, "docker_container.ports"),
    ("ports duplicated", *CREATE, container(ports=[80, 443, 80]), 400, "docker_container.ports"),
    ("ports string", *CREATE, container(ports="80"), 400, "docker_container.ports"),
    ("port as string", *CREATE, container(ports=["80"]), 400, "docker_container.ports"),
    ("port float", *CREATE, container(ports=[80.5]), 400, "docker_container.ports"),
    ("port boolean", *CREATE, container(ports=[True]), 400, "docker_container.ports"),
    ("configs object", *CREATE, app(marathon_configs={"cpu": 1}), 400, "marathon_configs"),
    ("config number", *CREATE, app(marathon_configs=[5]), 400, "marathon_configs[0]"),
    ("cpu 0", *CREATE, config(cpu=0), 400, "marathon_configs[0].cpu"),
    ("cpu negative", *CREATE, config(cpu=-1), 400, "marathon_configs[0].cpu"),
    ("cpu 64.001", *CREATE, config(cpu=64.001), 400, "marathon_configs[0].cpu"),
    ("cpu huge", *CREATE, config(cpu=10**30), 400, "marathon_configs[0].cpu"),
    ("cpu overflowing float", *CREATE, Raw('{"name": "x", "marathon_configs": [{"cpu": 1e999, "memory": 64}]}'),
     400, "marathon_configs[0].cpu"),
    ("cpu text", *CREATE, config(cpu="abc"), 400, "marathon_configs[0].cpu"),
    ("cpu boolean", *CREATE, config(cpu=True), 400, "marathon_configs[0].cpu"),
    ("cpu null", *CREATE, config(cpu=None), 400, "marathon_configs[0].cpu"),
    ("cpu four decimals", *CREATE, config(cpu=0.0001), 400, "marathon_configs[0].cpu"),
    ("cpu missing", *CREATE, without("cpu"), 400, "marathon_configs[0].cpu"),
    ("memory 31", *CREATE, config(memory=31), 400, "marathon_configs[0].memory"),
    ("memory 1048577", *CREATE, config(memory=1048577), 400, "marathon_configs[0].memory"),
    ("memory huge", *CREATE, config(memory=10**30), 400, "marathon_configs[0].memory"),
    ("memory string", *CREATE, config(memory="64"), 400, "marathon_configs[0].memory"),
    ("memory float", *CREATE, config(memory=64.5), 400, "marathon_configs[0].memory"),
    ("memory missing", *CREATE, without("memory"), 400, "marathon_configs[0].memory"),
    ("instances negative", *CREATE, config(instances=-1), 400, "marathon_configs[0].instances"),
    ("instances huge", *CREATE, config(instances=10**12), 400, "marathon_configs[0].instances"),
    ("args number", *CREATE, config(args=5), 400, "marathon_configs[0].args"),
    ("args of numbers", *CREATE, config(args=[1, 2]), 400, "marathon_configs[0].args"),
    ("args unclosed quote", *CREATE, config(args="--title 'unclosed"), 400, "marathon_configs[0].args"),
    ("args NUL", *CREATE, config(args=["a\u0000"]), 400, "marathon_configs[0].args"),
    ("env name with =", *CREATE, config(env_vars={"A=B": "x"}), 400, "marathon_configs[0].env_vars"),
    ("env name with space", *CREATE, config(env_vars={"MY VAR": "x"}), 400, "marathon_configs[0].env_vars"),
    ("env name leading digit", *CREATE, config(env_vars={"1ABC": "x"}), 400, "marathon_configs[0].env_vars"),
    ("env value number", *CREATE, config(env_vars={"PORT": 80}), 400, "marathon_configs[0].env_vars"),
    ("env list", *CREATE, config(env_vars=["A=1"]), 400, "marathon_configs[0].env_vars"),
    ("health path relative", *CREATE, config(health_check_path="health"), 400,
     "marathon_configs[0].health_check_path"),
    ("second config bad", *CREATE, app(marathon_configs=[{"cpu": 1, "memory": 64}, {"cpu": 1, "memory": 8}]), 400,
     "marathon_configs[1].memory"),
    ("duplicate name", *CREATE, app(name="base-app"), 409, "name"),
    # updates
    ("update unknown config id", "patch", "/api/v1/apps/{app}/",
     {"marathon_configs": [{"id": 987654, "cpu": 1, "memory": 64}]}, 400, "marathon_configs[0].id"),
    ("update config id text", "patch", "/api/v1/apps/{app}/", {"marathon_configs": [{"id": "one", "cpu": 1}]}, 400,
     "marathon_configs[0].id"),
    ("update config id twice", "put", "/api/v1/apps/{app}/",
     {"name": "base-app", "marathon_configs": [{"id": "{config}", "cpu": 1, "memory": 64},
                                               {"id": "{config}", "cpu": 2, "memory": 64}]},
     400, "marathon_configs[1].id"),
    ("update kept config memory 31", "patch", "/api/v1/apps/{app}/",
     {"marathon_configs": [{"id": "{config}", "memory": 31}]}, 400, "marathon_configs[0].memory"),
    ("update new config and unknown id", "patch", "/api/v1/apps/{app}/",
     {"name": "renamed", "marathon_configs": [{"cpu": 1, "memory": 64}, {"id": 987654, "cpu": 1, "memory": 64}]},
     400, "marathon_configs[1].id"),
    ("put app without name", "put", "/api/v1/apps/{app}/", {"description": "x"}, 400, "name"),
    ("patch app upper-case name", "patch", "/apps/{app}", {"name": "BASE"}, 400, "name"),
    ("patch app port 0", "patch", "/api/v1/apps/{app}/", {"docker_container": {"ports": [0]}}, 400,
     "docker_container.ports"),
    ("patch app null body", "patch", "/api/v1/apps/{app}/", None, 400, "body"),
    ("patch app array body", "patch", "/api/v1/apps/{app}/", [{"name": "x"}], 400, "body"),
    ("rename onto existing name", "patch", "/api/v1/apps/{app}/", {"name": "other-app"}, 409, "name"),
    ("put config memory 31", "put", "/api/v1/marathon-configs/{config}/", {"cpu": 1, "memory": 31}, 400, "memory"),
    ("patch config cpu 0", "patch", "/marathon-config/{config}", {"cpu": 0}, 400, "cpu"),
    ("patch config null body", "patch", "/api/v1/marathon-configs/{config}/", None, 400, "body"),
    ("put container a//b", "put", "/api/v1/containers/{container}/", {"image": "a//b"}, 400, "image"),
    ("patch container port 70000", "patch", "/container/docker/{container}", {"ports": [70000]}, 400, "ports"),
    ("add config env name with =", "post", "/api/v1/apps/{app}/marathon-configs/",
     {"cpu": 1, "memory": 64, "env_vars": {"A=B": "1"}}, 400, "env_vars"),
    ("add config array body", "post", "/api/v1/apps/{app}/marathon-configs/", [{"cpu": 1, "memory": 64}], 400,
     "body"),
]


@pytest.fixture
def existing():
    base = app_create(name="base-app", docker_container={"image": "nginx", "ports": [80]},
                      marathon_configs=[{"cpu": "1", "memory": 64}, {"cpu": "0.5", "memory": 128}])
    app_create(name="other-app", command="sleep 100", marathon_configs=[{"cpu": "1", "memory": 64}])
    return {"app": base.pk, "config": base.marathon_configs.all()[0].pk, "container": base.docker_container.pk}


def snapshot():
    return [
        list(model.objects.order_by("pk").values())
        for model in (App, DockerContainer, MarathonConfig)
    ]


def _fill(value, ids):
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if value == "{config}":
        return ids["config"]
    return value


def test_the_table_is_long_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize("method,url,body,status,field", [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_bad_input_answers_a_problem_naming_the_field_and_changes_nothing(client, existing, method, url, body,
                                                                          status, field):
    url = url.format(**existing)
    data = body if isinstance(body, Raw) else json.dumps(_fill(body, existing))
    before = snapshot()
    response = getattr(client, method)(url, data=data, content_type="application/json")
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["code"] and problem["detail"]
    assert field in problem["errors"], problem
    assert all(isinstance(message, str) for messages in problem["errors"].values() for message in messages)
    assert snapshot() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_json_answers_415(client, existing, content_type):
    before = snapshot()
    response = client.post("/api/v1/apps/", data="name=x", content_type=content_type)
    assert response.status_code == 415 and response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "unsupported_media_type"
    assert snapshot() == before


@pytest.mark.parametrize("url", ["/api/v1/apps/", "/apps", "/api/v1/apps/{app}/"])
def test_a_body_over_one_mebibyte_answers_413(client, existing, url):
    before = snapshot()
    body = json.dumps(app(description="x" * (1024 * 1024 + 1)))
    response = client.generic("PUT" if "{app}" in url else "POST", url.format(**existing), body,
                              content_type="application/json")
    assert response.status_code == 413 and response["Content-Type"] == PROBLEM
    assert snapshot() == before


def test_a_large_body_under_the_limit_is_taken(client):
    response = client.post("/api/v1/apps/", data=json.dumps(app(description="x" * 1000_000)),
                           content_type="application/json")
    assert response.status_code == 201


@pytest.mark.parametrize("method,url", [
    ("delete", "/api/v1/apps/"), ("put", "/apps"), ("post", "/api/v1/apps/{app}/"),
    ("delete", "/api/v1/containers/{container}/"), ("post", "/container/docker/{container}"),
    ("post", "/api/v1/marathon-configs/{config}/"), ("get", "/api/v1/apps/{app}/marathon-configs/"),
])
def test_a_wrong_method_answers_405(client, existing, method, url):
    before = snapshot()
    response = client.generic(method.upper(), url.format(**existing), "{}", content_type="application/json")
    assert response.status_code == 405 and response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "method_not_allowed"
    assert snapshot() == before


@pytest.mark.parametrize("raw", [b"   ", b"\xff\xfe{}", b'{"name": "a"', b"[" * 100_000 + b"]" * 100_000])
def test_bodies_that_cannot_be_read_answer_400(client, existing, raw):
    before = snapshot()
    response = client.post("/api/v1/apps/", data=raw, content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert "body" in response.json()["errors"]
    assert snapshot() == before


def test_an_empty_body_is_an_empty_object(client, existing):
    before = snapshot()
    response = client.post("/api/v1/apps/", data=b"", content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert "name" in response.json()["errors"]
    assert snapshot() == before


@pytest.mark.parametrize("query", ["ordering=nope", "search=" + "x" * 500, "image=" + "x" * 600])
def test_bad_list_parameters_answer_400_naming_them(client, query):
    response = client.get(f"/api/v1/apps/?{query}")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert query.split("=")[0] in response.json()["errors"]


def test_unknown_paths_answer_404_problems(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
