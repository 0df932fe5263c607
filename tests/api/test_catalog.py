"""The /api/v1 catalog routes: apps, configurations and containers, listing, lookups and their errors."""
import json

import pytest
from django.test import Client

from shared.models import App, DockerContainer, MarathonConfig
from shared.selectors.catalog import catalog_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(admin_api_client):
    """These tests act as an admin (with an API token); who may do what is tested in test_permissions.py."""
    return admin_api_client


PROBLEM = "application/problem+json"
NGINX = {
    "name": "nginx-test",
    "description": "simple nginx container",
    "vcs_url": "https://github.com/nginxinc/docker-nginx",
    "docker_container": {"type": "docker", "image": "nginx", "ports": [80]},
    "marathon_configs": [{"cpu": 1, "memory": 64}],
}


def send(client, method, url, body):
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def create(client, body=None, **changes):
    body = dict(body or NGINX, **changes)
    response = send(client, "post", "/api/v1/apps/", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_create_answers_201_with_the_app_its_container_and_configurations(client):
    response = send(client, "post", "/api/v1/apps/", NGINX)
    assert response.status_code == 201
    body = response.json()
    assert response["Location"] == f"/api/v1/apps/{body['id']}/"
    assert body["name"] == "nginx-test" and body["description"] == "simple nginx container"
    assert body["command"] == "" and body["labels"] == {}
    assert body["docker_container"]["image"] == "nginx" and body["docker_container"]["ports"] == [80]
    (config,) = body["marathon_configs"]
    assert config["cpu"] == 1 and config["memory"] == 64 and config["instances"] == 1
    assert config["args"] == [] and config["env_vars"] == {}
    app = App.objects.get(pk=body["id"])
    assert app.docker_container.pk == body["docker_container"]["id"]
    assert list(app.marathon_configs.values_list("pk", flat=True)) == [config["id"]]


def test_create_answers_with_what_a_get_answers(client):
    created = create(client)
    assert client.get(f"/api/v1/apps/{created['id']}/").json() == created


def test_cpu_is_rendered_as_a_number(client):
    body = create(client, marathon_configs=[{"cpu": "0.25", "memory": 64}, {"cpu": 2, "memory": 64},
                                            {"cpu": 0.5, "memory": 64}])
    assert [config["cpu"] for config in body["marathon_configs"]] == [0.25, 2, 0.5]


def test_a_command_only_app_needs_no_container(client):
    body = create(client, {"name": "http-server", "command": "python -m http.server $PORT0",
                           "marathon_configs": [{"cpu": 0.1, "memory": 32}]})
    assert body["docker_container"] is None
    assert body["command"] == "python -m http.server $PORT0"
    assert not DockerContainer.objects.exists()


def test_args_given_as_one_string_are_split_like_a_shell(client):
    body = create(client, marathon_configs=[{"cpu": 1, "memory": 64, "args": "--port 80 --title 'my app'"}])
    assert body["marathon_configs"][0]["args"] == ["--port", "80", "--title", "my app"]


def test_labels_env_vars_and_instances_round_trip(client):
    body = create(client, labels={"team": "web", "tier": ""},
                  marathon_configs=[{"cpu": 1, "memory": 64, "instances": 0, "env_vars": {"MODE": "demo", "_X1": ""}}])
    assert body["labels"] == {"team": "web", "tier": ""}
    assert body["marathon_configs"][0]["env_vars"] == {"MODE": "demo", "_X1": ""}
    assert body["marathon_configs"][0]["instances"] == 0


def test_get_by_id_or_by_name_with_or_without_slash(client):
    created = create(client, name="web1")
    for url in (f"/api/v1/apps/{created['id']}/", f"/api/v1/apps/{created['id']}", "/api/v1/apps/web1/",
                "/api/v1/apps/web1"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.json()["id"] == created["id"]


@pytest.mark.parametrize("url", ["/api/v1/apps/12345/", "/api/v1/apps/no-such-app/", "/api/v1/apps/99999999999999999999999/",
                                 "/api/v1/marathon-configs/12345/", "/api/v1/marathon-configs/abc/",
                                 "/api/v1/containers/12345/", "/api/v1/containers/-1/"])
def test_unknown_ids_answer_404_problems(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "not_found"


def test_duplicate_name_answers_409_naming_the_field(client):
    create(client)
    before = App.objects.count()
    response = send(client, "post", "/api/v1/apps/", NGINX)
    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "duplicate_name" and "name" in body["errors"]
    assert App.objects.count() == before


def test_renaming_onto_another_name_answers_409(client):
    create(client)
    other = create(client, name="other")
    response = send(client, "patch", f"/api/v1/apps/{other['id']}/", {"name": "nginx-test"})
    assert response.status_code == 409 and response.json()["code"] == "duplicate_name"
    assert App.objects.get(pk=other["id"]).name == "other"


def test_put_keeps_configs_with_ids_creates_new_ones_and_deletes_the_rest(client):
    created = create(client, marathon_configs=[{"cpu": 1, "memory": 64}, {"cpu": 2, "memory": 128}])
    keep, drop = [config["id"] for config in created["marathon_configs"]]
    response = send(client, "put", f"/api/v1/apps/{created['id']}/", {
        "name": "nginx-test",
        "marathon_configs": [{"id": keep, "cpu": 0.5, "memory": 256}, {"cpu": 4, "memory": 1024}],
    })
    assert response.status_code == 200, response.content
    configs = response.json()["marathon_configs"]
    assert configs[0]["id"] == keep and configs[0]["cpu"] == 0.5 and configs[0]["memory"] == 256
    assert configs[1]["id"] not in (keep, drop) and configs[1]["cpu"] == 4
    assert not MarathonConfig.objects.filter(pk=drop).exists()
    assert sorted(MarathonConfig.objects.values_list("pk", flat=True)) == sorted(c["id"] for c in configs)


def test_put_without_configurations_or_container_leaves_them(client):
    created = create(client)
    response = send(client, "put", f"/api/v1/apps/{created['id']}/", {"name": "renamed", "description": "new"})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "renamed" and body["description"] == "new"
    assert body["marathon_configs"] == created["marathon_configs"]
    assert body["docker_container"] == created["docker_container"]


def test_put_requires_the_name(client):
    created = create(client)
    response = send(client, "put", f"/api/v1/apps/{created['id']}/", {"description": "x"})
    assert response.status_code == 400 and "name" in response.json()["errors"]


def test_patch_changes_only_what_it_sends(client):
    created = create(client, labels={"a": "b"})
    config_id = created["marathon_configs"][0]["id"]
    response = send(client, "patch", f"/api/v1/apps/nginx-test/",
                    {"marathon_configs": [{"id": config_id, "instances": 3}]})
    assert response.status_code == 200
    body = response.json()
    assert body["labels"] == {"a": "b"} and body["description"] == created["description"]
    assert body["marathon_configs"][0]["instances"] == 3 and body["marathon_configs"][0]["memory"] == 64


def test_patch_with_a_new_configuration_needs_its_cpu_and_memory(client):
    created = create(client)
    response = send(client, "patch", f"/api/v1/apps/{created['id']}/", {"marathon_configs": [{"instances": 2}]})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"marathon_configs[0].cpu", "marathon_configs[0].memory"}
    assert MarathonConfig.objects.count() == 1


def test_container_null_removes_it_and_an_object_adds_it_back(client):
    created = create(client)
    response = send(client, "patch", f"/api/v1/apps/{created['id']}/", {"docker_container": None})
    assert response.status_code == 200 and response.json()["docker_container"] is None
    assert not DockerContainer.objects.exists()
    response = send(client, "patch", f"/api/v1/apps/{created['id']}/", {"docker_container": {"ports": [81]}})
    assert response.status_code == 400 and "docker_container.image" in response.json()["errors"]
    response = send(client, "patch", f"/api/v1/apps/{created['id']}/",
                    {"docker_container": {"image": "httpd:2.4", "ports": [8080]}})
    assert response.status_code == 200
    assert response.json()["docker_container"]["image"] == "httpd:2.4"


def test_configuration_ids_of_another_app_are_rejected(client):
    first = create(client)
    second = create(client, name="second")
    foreign = first["marathon_configs"][0]["id"]
    response = send(client, "patch", f"/api/v1/apps/{second['id']}/",
                    {"marathon_configs": [{"id": foreign, "cpu": 2, "memory": 64}]})
    assert response.status_code == 400
    assert "marathon_configs[0].id" in response.json()["errors"]
    assert MarathonConfig.objects.get(pk=foreign).app_id == first["id"]
    assert MarathonConfig.objects.filter(app_id=second["id"]).count() == 1


def test_delete_removes_the_app_its_container_and_configurations(client):
    created = create(client)
    response = client.delete(f"/api/v1/apps/{created['id']}/")
    assert response.status_code == 204
    assert not App.objects.exists() and not DockerContainer.objects.exists()
    assert not MarathonConfig.objects.exists()
    assert client.delete(f"/api/v1/apps/{created['id']}/").status_code == 404


def test_add_a_configuration_to_an_app(client):
    created = create(client)
    response = send(client, "post", f"/api/v1/apps/{created['id']}/marathon-configs/",
                    {"cpu": "0.5", "memory": 128, "args": ["-g", "daemon off;"], "env_vars": {"A": "1"}})
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/marathon-configs/{body['id']}/"
    assert body["app"] == created["id"] and body["cpu"] == 0.5 and body["args"] == ["-g", "daemon off;"]
    assert client.get(f"/api/v1/apps/{created['id']}/").json()["marathon_configs"][1]["id"] == body["id"]
    assert send(client, "post", "/api/v1/apps/nginx-test/marathon-configs", {"cpu": 1, "memory": 64}).status_code == 201
    response = send(client, "post", "/api/v1/apps/4242/marathon-configs/", {"cpu": 1, "memory": 64})
    assert response.status_code == 404


def test_configuration_get_put_patch_delete(client):
    created = create(client)
    config_id = created["marathon_configs"][0]["id"]
    url = f"/api/v1/marathon-configs/{config_id}/"
    assert client.get(url).json()["memory"] == 64
    response = send(client, "patch", url, {"instances": 2, "env_vars": {"X": "y"}})
    assert response.status_code == 200 and response.json()["instances"] == 2
    response = send(client, "put", url, {"cpu": 2, "memory": 128})
    assert response.status_code == 200
    body = response.json()
    assert (body["cpu"], body["memory"], body["instances"], body["env_vars"]) == (2, 128, 1, {})
    response = send(client, "put", url, {"memory": 128})
    assert response.status_code == 400 and set(response.json()["errors"]) == {"cpu"}
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert App.objects.filter(pk=created["id"]).exists()


def test_container_get_put_patch_and_no_delete(client):
    created = create(client)
    url = f"/api/v1/containers/{created['docker_container']['id']}/"
    assert client.get(url).json() == created["docker_container"]
    response = send(client, "patch", url, {"ports": [80, 443]})
    assert response.status_code == 200 and response.json()["ports"] == [80, 443]
    assert response.json()["image"] == "nginx"
    response = send(client, "put", url, {"image": "registry.example.com:5000/team/web@sha256:" + "a" * 64})
    assert response.status_code == 200 and response.json()["ports"] == []
    response = send(client, "put", url, {"ports": [80]})
    assert response.status_code == 400 and set(response.json()["errors"]) == {"image"}
    response = client.delete(url)
    assert response.status_code == 405 and response["Content-Type"] == PROBLEM
    assert DockerContainer.objects.filter(pk=created["docker_container"]["id"]).exists()


def test_list_is_paginated_and_ordered_by_name(client):
    for name in ("c-app", "a-app", "b-app"):
        create(client, name=name)
    body = client.get("/api/v1/apps/?page_size=2").json()
    assert body["count"] == 3 and [app["name"] for app in body["results"]] == ["a-app", "b-app"]
    assert body["next"]
    body = client.get("/api/v1/apps/?page_size=2&page=2").json()
    assert [app["name"] for app in body["results"]] == ["c-app"]
    response = client.get("/api/v1/apps/?page=9")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM


def test_list_search_over_name_and_description(client):
    create(client, name="alpha", description="serves maps")
    create(client, name="beta-maps", description="nothing")
    create(client, name="gamma", description="other")
    names = [app["name"] for app in client.get("/api/v1/apps/?search=MAPS").json()["results"]]
    assert names == ["alpha", "beta-maps"]


def test_list_image_filter_matches_the_reference_or_any_tag_of_it(client):
    create(client, name="one", docker_container={"image": "nginx", "ports": [80]})
    create(client, name="two", docker_container={"image": "nginx:1.27", "ports": [80]})
    create(client, name="three", docker_container={"image": "nginx-proxy", "ports": [80]})
    create(client, name="four", docker_container=None, command="sleep 1")
    names = [app["name"] for app in client.get("/api/v1/apps/?image=nginx").json()["results"]]
    assert names == ["one", "two"]
    names = [app["name"] for app in client.get("/api/v1/apps/?image=nginx:1.27").json()["results"]]
    assert names == ["two"]


def test_list_ordering(client):
    for name in ("b", "a", "c"):
        create(client, name=name)
    assert [a["name"] for a in client.get("/api/v1/apps/?ordering=-name").json()["results"]] == ["c", "b", "a"]
    assert [a["name"] for a in client.get("/api/v1/apps/?ordering=created_at").json()["results"]] == ["b", "a", "c"]
    assert [a["name"] for a in client.get("/api/v1/apps/?ordering=-id").json()["results"]] == ["c", "a", "b"]
    response = client.get("/api/v1/apps/?ordering=password")
    assert response.status_code == 400 and "ordering" in response.json()["errors"]


def test_listing_costs_the_same_queries_for_1_or_30_apps(client, django_assert_num_queries):
    reader = Client()  # the public catalog, read without signing in: no token lookup in the counts
    catalog_version()  # its statement is prepared once per connection: not part of what is counted
    create(client, name="first", marathon_configs=[{"cpu": 1, "memory": 64}, {"cpu": 2, "memory": 64}])
    # the catalog version, then on a cache miss: count, apps, their containers, their configurations
    with django_assert_num_queries(5):
        assert reader.get("/api/v1/apps/").status_code == 200
    for index in range(29):
        create(client, name=f"app-{index}", marathon_configs=[{"cpu": 1, "memory": 64}] * (index % 3))
    with django_assert_num_queries(5):
        body = reader.get("/api/v1/apps/").json()
    assert body["count"] == 30
    with django_assert_num_queries(4):  # the ancestor's plain list has no count
        assert len(reader.get("/apps").json()) == 30


def test_get_costs_three_queries(client, django_assert_num_queries):
    created = create(client, marathon_configs=[{"cpu": 1, "memory": 64}] * 3)
    with django_assert_num_queries(3):
        assert Client().get(f"/api/v1/apps/{created['id']}/").status_code == 200


def test_create_costs_the_same_queries_for_one_or_four_configurations(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    client.get("/api/v1/apps/")  # the token's first use records its last-used time: not part of the counts
    for name, configs in (("one", 1), ("four", 4)):
        with CaptureQueriesContext(connection) as queries:
            send(client, "post", "/api/v1/apps/", dict(NGINX, name=name, marathon_configs=[{"cpu": 1, "memory": 64}] * configs))
        # A statement's first run on a connection also prepares it (once per session): not a per-request cost.
        counts.append(len([q for q in queries if not q["sql"].startswith("PREPARE ")]))
    assert counts[0] == counts[1]  # the configurations go in one bulk insert
    assert MarathonConfig.objects.count() == 5


def test_an_app_named_import_is_left_to_the_import_route(client):
    # /api/v1/apps/import belongs to the image import; such an app is still reachable by id and by the old route
    created = create(client, name="import")
    assert client.get(f"/api/v1/apps/{created['id']}/").json()["name"] == "import"
    assert client.get("/apps/import").json()["id"] == created["id"]


# --- What runs: the `deployment` member, and deleting what is deployed ---------------------------------


def _deployed(config, status="running"):
    from shared.models import Deployment

    return Deployment.objects.create(config=config, app=config.app, marathon_app_id=f"/maracker/x/{config.pk}",
                                     status=status, instances=1, tasks_running=1, public_url="http://x/")


def test_apps_and_configurations_show_their_deployment(client, django_assert_max_num_queries):
    from shared.models import MarathonConfig

    catalog_version()  # its statement is prepared once per connection: not part of what is counted
    created = client.post("/api/v1/apps/", NGINX, content_type="application/json").json()
    assert created["marathon_configs"][0]["deployment"] is None
    config = MarathonConfig.objects.get(pk=created["marathon_configs"][0]["id"])
    _deployed(config)
    body = client.get(f"/api/v1/apps/{created['id']}/").json()
    deployment = body["marathon_configs"][0]["deployment"]
    assert deployment["status"] == "running" and deployment["marathon_app_id"].endswith(f"/{config.pk}")
    assert deployment["url"] == "http://x/"
    assert client.get(f"/api/v1/marathon-configs/{config.pk}/").json()["deployment"]["status"] == "running"
    with django_assert_max_num_queries(5):  # version, count, apps, containers, configurations with deployments
        listing = Client().get("/api/v1/apps/").json()  # read without signing in: no token lookup counted
    assert listing["results"][0]["marathon_configs"][0]["deployment"]["status"] == "running"


@pytest.mark.parametrize("target", ["app", "config"])
def test_deleting_what_is_deployed_is_409_unless_forced_which_stops_it_first(client, target):
    from shared.models import App, Job, MarathonConfig

    created = client.post("/api/v1/apps/", NGINX, content_type="application/json").json()
    config = MarathonConfig.objects.get(pk=created["marathon_configs"][0]["id"])
    _deployed(config)
    url = f"/api/v1/apps/{created['id']}/" if target == "app" else f"/api/v1/marathon-configs/{config.pk}/"
    refused = client.delete(url)
    assert refused.status_code == 409 and refused.json()["code"] == "deployed"
    assert refused.json()["deployments"][0]["config"] == config.pk
    assert client.delete(url + "?force=maybe").status_code == 400
    assert App.objects.filter(pk=created["id"]).exists() and not Job.objects.exists()
    forced = client.delete(url + "?force=true")
    assert forced.status_code == 202
    job = Job.objects.get()
    assert forced["Location"] == f"/api/v1/jobs/{job.pk}"
    assert job.kind == "stop" and job.params["then_delete"] == target
    assert MarathonConfig.objects.filter(pk=config.pk).exists()  # deleted only once stopped


def test_a_stopped_deployment_does_not_block_deletion(client):
    from shared.models import App, MarathonConfig

    created = client.post("/api/v1/apps/", NGINX, content_type="application/json").json()
    _deployed(MarathonConfig.objects.get(pk=created["marathon_configs"][0]["id"]), status="stopped")
    assert client.delete(f"/api/v1/apps/{created['id']}/").status_code == 204
    assert not App.objects.filter(pk=created["id"]).exists()


def test_listings_are_cached_until_anything_they_show_changes(client, django_assert_max_num_queries):
    from shared.models import Deployment, MarathonConfig

    created = client.post("/api/v1/apps/", NGINX, content_type="application/json").json()
    first = client.get("/api/v1/apps/").json()
    with django_assert_max_num_queries(1):  # the version only; the page comes from the cache
        assert Client().get("/api/v1/apps/").json() == first  # (read without a token lookup)
    client.patch(f"/api/v1/apps/{created['id']}/", {"description": "changed"}, content_type="application/json")
    assert client.get("/api/v1/apps/").json()["results"][0]["description"] == "changed"
    config = MarathonConfig.objects.get(pk=created["marathon_configs"][0]["id"])
    _deployed(config)
    assert client.get("/apps").json()[0]["marathon_configs"][0]["deployment"]["status"] == "running"
    Deployment.objects.filter(config=config).update(status="unhealthy")  # a bulk update, no signals
    assert client.get("/apps").json()[0]["marathon_configs"][0]["deployment"]["status"] == "unhealthy"


def test_listings_work_without_redis(client, monkeypatch):
    from django.core.cache.backends.redis import RedisCache

    down = RedisCache("redis://127.0.0.1:9/0", {"OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}})
    monkeypatch.setattr("api.listing_cache.cache", down)
    client.post("/api/v1/apps/", NGINX, content_type="application/json")
    response = client.get("/api/v1/apps/")
    assert response.status_code == 200 and response.json()["count"] == 1
