"""Fault injection and the /_sim/ control API: failures, hangs, stream drops, pauses, leader changes, reset."""
import time

import pytest
import requests

from marathon_sim.faults import is_loopback

APP = {"id": "/f", "cmd": "sleep 1000", "instances": 1, "cpus": 0.1, "mem": 16}


def test_fail_next_n_requests_then_recover(marathon_sim):
    marathon_sim.fail_next(2)
    for _ in range(2):
        resp = marathon_sim.get("/v2/apps")
        assert resp.status_code == 503 and "text/html" in resp.headers["Content-Type"]
        assert "Could not determine the current leader" in resp.text
    assert marathon_sim.get("/v2/apps").status_code == 200


def test_fail_only_matching_path_prefix_with_status_and_body(marathon_sim):
    marathon_sim.fail_next(1, status=502, path_prefix="/v2/deployments")
    marathon_sim.fail_next(1, status=504, path_prefix="/v2/info", body={"message": "timeout"})
    assert marathon_sim.get("/v2/apps").status_code == 200
    assert marathon_sim.get("/v2/deployments").status_code == 502
    resp = marathon_sim.get("/v2/info")
    assert resp.status_code == 504 and resp.json() == {"message": "timeout"}
    assert marathon_sim.get("/v2/deployments").status_code == 200


def test_hang_next_makes_client_timeouts_happen(marathon_sim):
    marathon_sim.hang_next(1, 2.0, path_prefix="/v2/apps")
    with pytest.raises(requests.ReadTimeout):
        requests.get(marathon_sim.url + "/v2/apps", timeout=(1, 0.3))
    assert marathon_sim.get("/ping").status_code == 200  # other paths are not held
    started = time.monotonic()
    assert marathon_sim.get("/v2/apps").status_code == 200
    assert time.monotonic() - started < 1.5  # the fault was used up


def test_drop_streams_closes_every_subscriber(marathon_sim):
    streams = [marathon_sim.events() for _ in range(3)]
    try:
        for s in streams:
            assert s.attached.wait(5)
        assert marathon_sim.drop_streams() == 3
        for s in streams:
            assert s.ended.wait(5)
        assert marathon_sim.event_stats()["subscribers"] == []
    finally:
        for s in streams:
            s.close()


def test_pause_buffers_and_resume_delivers(marathon_sim):
    with marathon_sim.events(["deployment_success"]) as s:
        marathon_sim.get("/ping")
        marathon_sim.pause_events()
        marathon_sim.http.post(marathon_sim.url + "/v2/apps", json=APP)
        marathon_sim.wait_deployed("/f")
        time.sleep(0.2)
        assert "deployment_success" not in s.types()
        assert marathon_sim.event_stats()["buffered"] > 0
        marathon_sim.resume_events()
        s.wait_type("deployment_success")


def test_leader_change_drops_streams_and_moves_the_leader(marathon_sim):
    before = marathon_sim.get("/v2/leader").json()["leader"]
    with marathon_sim.events() as s:
        assert s.attached.wait(5)
        marathon_sim.leader_change()
        assert s.ended.wait(5)
    after = marathon_sim.get("/v2/leader")
    assert after.json()["leader"] != before
    assert after.headers["X-Marathon-Leader"] == "http://" + after.json()["leader"]
    assert marathon_sim.get("/v2/info").json()["leader"] == after.json()["leader"]
    marathon_sim.leader_change("other:8080")
    assert marathon_sim.get("/v2/leader").json() == {"leader": "other:8080"}


def test_no_leader_then_back(marathon_sim):
    marathon_sim.no_leader(status=502)
    resp = marathon_sim.get("/v2/apps")
    assert resp.status_code == 502 and "current leader" in resp.text
    marathon_sim.leader_change()
    assert marathon_sim.get("/v2/apps").status_code == 200


def test_abdicate_via_marathon_api_drops_streams(marathon_sim):
    with marathon_sim.events() as s:
        assert s.attached.wait(5)
        assert marathon_sim.http.delete(marathon_sim.url + "/v2/leader").status_code == 200
        assert s.ended.wait(5)
    assert marathon_sim.get("/v2/leader").status_code == 200


def test_step_time_can_change_at_runtime(marathon_sim):
    marathon_sim.set_step_seconds(0)
    marathon_sim.http.post(marathon_sim.url + "/v2/apps", json=APP)
    marathon_sim.wait_deployed("/f")
    assert marathon_sim.state()["stepSeconds"] == 0
    marathon_sim.set_step_seconds(0.5)
    marathon_sim.http.put(marathon_sim.url + "/v2/apps/f", json={"instances": 2})
    time.sleep(0.1)
    assert marathon_sim.get("/v2/deployments").json() != []  # still running: steps now take 0.5 s


def test_reset_forgets_everything(marathon_sim):
    marathon_sim.http.post(marathon_sim.url + "/v2/apps", json={**APP, "container": {
        "type": "DOCKER", "docker": {"image": "x/fail:1"}}, "cmd": None, "networks": [{"mode": "container/bridge"}]})
    marathon_sim.fail_next(5, path_prefix="/nothing")
    marathon_sim.pause_events()
    marathon_sim.reset()
    state = marathon_sim.state()
    assert state["apps"] == 0 and state["deployments"] == 0 and state["faults"]["rules"] == []
    assert not state["events"]["paused"]
    assert marathon_sim.get("/v2/apps").json() == {"apps": []}
    assert marathon_sim.get("/v2/queue").json() == {"queue": []}


def test_received_requests_are_counted_and_logged(marathon_sim):
    marathon_sim.clear_received()
    marathon_sim.fail_next(1)
    for _ in range(3):
        marathon_sim.get("/v2/apps")
    assert marathon_sim.request_count("/v2/apps") == 3
    assert marathon_sim.request_count("/v2/apps", method="GET") == 3
    log = marathon_sim.received()["log"]
    assert [e["status"] for e in log] == [503, 200, 200]
    assert all(e["path"] == "/v2/apps" and e["method"] == "GET" for e in log)


def test_control_api_is_loopback_only():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.5.0.1")
    assert not is_loopback("10.0.0.1") and not is_loopback("192.168.1.2")


def test_two_independent_simulators(marathon_sim, marathon_sim_factory):
    other = marathon_sim_factory()
    other.http.post(other.url + "/v2/apps", json=APP)
    assert other.get("/v2/apps/f").status_code == 200
    assert marathon_sim.get("/v2/apps/f").status_code == 404
    other.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(other.url + "/ping", timeout=1)
    assert marathon_sim.get("/ping").text == "pong"
