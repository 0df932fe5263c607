"""The simulator process: snapshots across restarts, basic auth, headers, command line."""
import time

import pytest
import requests

from marathon_sim.__main__ import parse_args

APP = {"id": "/keep/me", "cmd": "sleep 1000", "instances": 2, "cpus": 0.1, "mem": 16, "labels": {"a": "b"}}


def test_snapshot_keeps_apps_across_a_restart(marathon_sim_factory, tmp_path):
    path = tmp_path / "state.json"
    sim = marathon_sim_factory(snapshot=path)
    sim.http.post(sim.url + "/v2/apps", json=APP)
    before = sim.wait_deployed("/keep/me")
    sim.stop()
    assert path.exists()
    again = marathon_sim_factory(snapshot=path)
    app = again.wait_deployed("/keep/me")
    assert app["labels"] == {"a": "b"} and app["version"] == before["version"]
    assert app["portDefinitions"] == before["portDefinitions"]
    assert again.get("/v2/apps/keep/me/versions").json()["versions"] == [before["version"]]
    deadline = time.monotonic() + 10
    while again.get("/v2/apps/keep/me").json()["app"]["tasksRunning"] != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert again.get("/v2/apps/keep/me").json()["app"]["tasksRunning"] == 2
    again.http.delete(again.url + "/v2/apps/keep/me")
    again.stop()
    third = marathon_sim_factory(snapshot=path)
    assert third.get("/v2/apps").json() == {"apps": []}


def test_snapshot_survives_a_crash_after_the_write(marathon_sim_factory, tmp_path):
    path = tmp_path / "state.json"
    sim = marathon_sim_factory(snapshot=path)
    sim.http.post(sim.url + "/v2/apps", json=APP)
    sim.wait_deployed("/keep/me")
    sim.http.post(sim.url + "/_sim/snapshot")
    sim.kill()
    again = marathon_sim_factory(snapshot=path)
    assert again.get("/v2/apps/keep/me").status_code == 200


def test_basic_auth_as_jetty(marathon_sim_factory):
    sim = marathon_sim_factory(credentials="admin:s3cret")
    resp = requests.get(sim.url + "/v2/apps", timeout=5)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'basic realm="Mesosphere"'
    assert "text/html" in resp.headers["Content-Type"]
    assert requests.get(sim.url + "/v2/apps", auth=("admin", "wrong"), timeout=5).status_code == 401
    assert requests.get(sim.url + "/v2/apps", auth=("admin", "s3cret"), timeout=5).status_code == 200
    assert requests.get(sim.url + "/_sim/state", timeout=5).status_code == 200  # control API is not Marathon's


def test_every_answer_names_the_leader_and_writes_name_the_deployment(marathon_sim):
    resp = marathon_sim.http.post(marathon_sim.url + "/v2/apps", json=APP)
    assert resp.headers["X-Marathon-Leader"] == f"http://127.0.0.1:{marathon_sim.port}"
    assert resp.headers["Marathon-Deployment-Id"]
    for resp in (marathon_sim.get("/v2/apps/none"), marathon_sim.get("/ping")):
        assert "X-Marathon-Leader" in resp.headers
    assert marathon_sim.get("/ping").text == "pong"


def test_command_line_checks():
    args = parse_args(["--port", "9000", "--step-seconds", "0", "--credentials", "u:p"])
    assert args.port == 9000 and args.step_seconds == 0 and args.credentials == "u:p"
    for bad in (["--step-seconds", "-1"], ["--credentials", "nocolon"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
