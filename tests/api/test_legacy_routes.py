"""The ancestor's catalog routes at the root: same views, same payloads both ways, with or without a slash."""
import json

import pytest

from shared.models import App, MarathonConfig

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(admin_api_client):
    """These tests act as an admin (with an API token); who may do what is tested in test_permissions.py."""
    return admin_api_client


ANCESTOR_REQUEST = {
    "name": "nginx-test",
    "description": "simple nginx container",
    "vcs_url": "https://github.com/nginxinc/docker-nginx",
    "docker_container": {"type": "docker", "image": "nginx", "ports": [80]},
    "marathon_configs": [{"cpu": 1, "memory": 64}],
}
ANCESTOR_APP_KEYS = {"id", "name", "description", "command", "vcs_url", "docker_container", "marathon_configs"}
ANCESTOR_CONFIG_KEYS = {"id", "cpu", "memory", "args", "env_vars"}


def send(client, method, url, body):
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("url", ["/apps", "/apps/"])
def test_the_ancestors_payload_round_trips(client, url):
    response = send(client, "post", url, ANCESTOR_REQUEST)
    assert response.status_code == 201, response.content
    body = response.json()
    assert ANCESTOR_APP_KEYS <= set(body)
    assert {"id", "image", "ports"} <= set(body["docker_container"])
    assert ANCESTOR_CONFIG_KEYS <= set(body["marathon_configs"][0])
    for key in ("name", "description", "vcs_url"):
        assert body[key] == ANCESTOR_REQUEST[key]
    assert body["docker_container"]["image"] == "nginx" and body["docker_container"]["ports"] == [80]
    assert body["marathon_configs"][0]["cpu"] == 1 and body["marathon_configs"][0]["memory"] == 64
    # what the ancestor's client reads back can be sent again as an update
    again = send(client, "put", f"/apps/{body['id']}", body)
    assert again.status_code == 200
    assert {k: v for k, v in again.json().items() if k != "updated_at"} == \
        {k: v for k, v in body.items() if k != "updated_at"}


@pytest.mark.parametrize("url", ["/apps", "/apps/"])
def test_the_ancestors_list_is_a_plain_array(client, url):
    send(client, "post", "/apps", ANCESTOR_REQUEST)
    send(client, "post", "/apps", dict(ANCESTOR_REQUEST, name="web1"))
    response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list) and [app["name"] for app in body] == ["nginx-test", "web1"]
    assert body == client.get("/api/v1/apps/").json()["results"]


def test_apps_by_id_and_by_name_with_digits(client):
    web1 = send(client, "post", "/apps", dict(ANCESTOR_REQUEST, name="web1")).json()
    web12 = send(client, "post", "/apps", dict(ANCESTOR_REQUEST, name="web12")).json()
    for url in (f"/apps/{web1['id']}", f"/apps/{web1['id']}/", "/apps/web1", "/apps/web1/"):
        assert client.get(url).json()["id"] == web1["id"], url
    assert client.get("/apps/web12").json()["id"] == web12["id"]
    assert client.get("/apps/9999").status_code == 404


def test_put_patch_delete_on_the_ancestors_app_route(client):
    created = send(client, "post", "/apps", ANCESTOR_REQUEST).json()
    response = send(client, "patch", "/apps/nginx-test", {"description": "changed"})
    assert response.status_code == 200 and response.json()["description"] == "changed"
    response = send(client, "put", f"/apps/{created['id']}/", dict(ANCESTOR_REQUEST, name="nginx-two"))
    assert response.status_code == 200 and response.json()["name"] == "nginx-two"
    assert client.delete("/apps/nginx-two").status_code == 204
    assert not App.objects.exists()


@pytest.mark.parametrize("slash", ["", "/"])
def test_the_ancestors_container_route(client, slash):
    created = send(client, "post", "/apps", ANCESTOR_REQUEST).json()
    url = f"/container/docker/{created['docker_container']['id']}{slash}"
    assert client.get(url).json() == created["docker_container"]
    response = send(client, "put", url, {"type": "docker", "image": "nginx:1.27", "ports": [8080]})
    assert response.status_code == 200
    assert response.json() == dict(created["docker_container"], image="nginx:1.27", ports=[8080])
    assert send(client, "patch", url, {"ports": [80]}).json()["ports"] == [80]
    assert client.get(f"/container/docker/777{slash}").status_code == 404


@pytest.mark.parametrize("slash", ["", "/"])
def test_the_ancestors_marathon_config_route(client, slash):
    created = send(client, "post", "/apps", ANCESTOR_REQUEST).json()
    config = created["marathon_configs"][0]
    url = f"/marathon-config/{config['id']}{slash}"
    assert client.get(url).json() == client.get(f"/api/v1/marathon-configs/{config['id']}/").json()
    response = send(client, "put", url, {"cpu": 0.5, "memory": 128, "args": "-g 'daemon off;'",
                                         "env_vars": {"A": "b"}})
    assert response.status_code == 200
    body = response.json()
    assert (body["cpu"], body["memory"], body["args"], body["env_vars"]) == (0.5, 128, ["-g", "daemon off;"],
                                                                             {"A": "b"})
    assert send(client, "patch", url, {"memory": 256}).json()["memory"] == 256
    assert client.delete(url).status_code == 204
    assert not MarathonConfig.objects.exists()


def test_legacy_and_v1_routes_are_the_same_views():
    from django.urls import resolve

    assert resolve("/apps").func.view_class is resolve("/api/v1/apps/").func.view_class
    assert resolve("/apps/web1").func.view_class is resolve("/api/v1/apps/web1/").func.view_class
    assert resolve("/container/docker/1").func.view_class is resolve("/api/v1/containers/1/").func.view_class
    assert resolve("/marathon-config/1").func.view_class is resolve("/api/v1/marathon-configs/1/").func.view_class
