"""App definition reading, normalisation and validation, over HTTP against the simulator."""
import pytest


def post(sim, body):
    return sim.http.post(sim.url + "/v2/apps", json=body, timeout=10)


def test_defaults_are_filled_and_ids_canonical(marathon_sim):
    resp = post(marathon_sim, {"id": "a//b/./c/../web/", "cmd": "sleep 100", "instances": 0})
    assert resp.status_code == 201
    app = resp.json()
    assert app["id"] == "/a/b/web"
    assert app["cpus"] == 1 and app["mem"] == 128 and app["disk"] == 0
    assert app["backoffSeconds"] == 1 and app["backoffFactor"] == 1.15 and app["maxLaunchDelaySeconds"] == 300
    assert app["upgradeStrategy"] == {"minimumHealthCapacity": 1, "maximumOverCapacity": 1}
    assert app["networks"] == [{"mode": "host"}]
    assert len(app["portDefinitions"]) == 1 and 10000 <= app["portDefinitions"][0]["port"] <= 20000
    assert app["versionInfo"]["lastConfigChangeAt"] == app["version"]
    assert resp.headers["Location"].endswith("/a/b/web")


@pytest.mark.parametrize("body, path, message", [
    ({"id": "/Web", "cmd": "sleep 1"}, "/id", "Object is not valid"),
    ({"id": "/", "cmd": "sleep 1"}, "/id", "Object is not valid"),
    ({"id": "/x/versions", "cmd": "sleep 1"}, "/id", "Object is not valid"),
    ({"id": "/x", "cmd": "sleep 1", "cpus": 0}, "/cpus", "Invalid JSON"),
    ({"id": "/x", "cmd": "sleep 1", "instances": 1.5}, "/instances", "Invalid JSON"),
    ({"id": "/x", "args": "sleep 1"}, "/args", "Invalid JSON"),
    ({"id": "/x", "cmd": "sleep 1", "backoffFactor": 0.5}, "/backoffFactor", "Invalid JSON"),
    ({"id": "/x", "cmd": "sleep 1", "upgradeStrategy": {"minimumHealthCapacity": 2}},
     "/upgradeStrategy/minimumHealthCapacity", "Invalid JSON"),
    ({"id": "/x", "container": {"type": "DOCKER", "docker": {"image": "n"}}, "networks": [{"mode": "BRIDGE"}]},
     "/networks(0)/mode", "Invalid JSON"),
    ({"id": "/x", "container": {"type": "DOCKER", "docker": {"image": "n", "network": "OVERLAY"}}},
     "/container/docker/network", "Invalid JSON"),
    ({"id": "/x", "cmd": "sleep 1", "portDefinitions": [{"port": 0}], "healthChecks": [{"portIndex": 3}]},
     "/healthChecks(0)", "Object is not valid"),
    ({"id": "/x", "cmd": "sleep 1", "portDefinitions": [{"port": 0, "name": "a"}, {"port": 0, "name": "a"}]},
     "/portDefinitions", "Object is not valid"),
    ({"id": "/x", "container": {"type": "DOCKER", "docker": {"image": "n"}}, "networks": [{"mode": "container/bridge"}],
      "portDefinitions": [{"port": 0}]}, "/", "Object is not valid"),
    ({"id": "/x", "container": {"type": "DOCKER", "docker": {"image": "n", "network": "BRIDGE"}},
      "networks": [{"mode": "container/bridge"}]}, "/", "Object is not valid"),
])
def test_invalid_definitions_name_the_field(marathon_sim, body, path, message):
    resp = post(marathon_sim, body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["message"] == message
    assert path in [d["path"] for d in resp.json()["details"]]


def test_body_errors_are_400(marathon_sim):
    resp = marathon_sim.http.post(marathon_sim.url + "/v2/apps", data=b"{nope",
                                  headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["message"] == "Invalid JSON"
    assert isinstance(resp.json()["details"], str)
    resp = marathon_sim.http.post(marathon_sim.url + "/v2/apps", data=b"",
                                  headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["message"] == "Please specify data in JSON format"
    resp = post(marathon_sim, ["not", "an", "object"])
    assert resp.status_code == 422 and resp.json()["details"][0]["errors"] == ["error.expected.jsobject"]


def test_old_user_network_becomes_container_network(marathon_sim):
    resp = post(marathon_sim, {"id": "/u", "instances": 0, "ipAddress": {"networkName": "dcos"},
                               "container": {"type": "DOCKER", "docker": {"image": "nginx", "network": "USER"}}})
    assert resp.status_code == 201
    assert resp.json()["networks"] == [{"mode": "container", "name": "dcos"}]
    assert "network" not in resp.json()["container"]["docker"]


def test_service_ports_are_unique_and_kept_on_partial_update(marathon_sim):
    a = post(marathon_sim, {"id": "/a", "cmd": "sleep 1", "instances": 0, "portDefinitions": [{"port": 0}] * 2})
    b = post(marathon_sim, {"id": "/b", "cmd": "sleep 1", "instances": 0})
    ports = [p["port"] for p in a.json()["portDefinitions"]] + [p["port"] for p in b.json()["portDefinitions"]]
    assert len(set(ports)) == 3
    marathon_sim.wait_deployed("/a")
    assert marathon_sim.http.put(marathon_sim.url + "/v2/apps/a", json={"labels": {"x": "y"}}).status_code == 200
    app = marathon_sim.wait_deployed("/a")
    assert [p["port"] for p in app["portDefinitions"]] == ports[:2]


def test_full_put_resets_missing_fields(marathon_sim):
    post(marathon_sim, {"id": "/f", "cmd": "sleep 1", "instances": 0, "labels": {"a": "b"}, "mem": 64})
    marathon_sim.wait_deployed("/f")
    resp = marathon_sim.http.put(marathon_sim.url + "/v2/apps/f", params={"partialUpdate": "false"},
                                 json={"cmd": "sleep 2", "instances": 0})
    assert resp.status_code == 200
    app = marathon_sim.wait_deployed("/f")
    assert app["labels"] == {} and app["mem"] == 128 and app["cmd"] == "sleep 2"
