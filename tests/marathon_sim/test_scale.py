"""A thousand apps: all created, listed, running, and removed (no timing assertions)."""
import time
from concurrent.futures import ThreadPoolExecutor

import requests


def test_a_thousand_apps(marathon_sim):
    marathon_sim.set_step_seconds(0)
    local = {}

    def create(i):
        session = local.setdefault(i % 8, requests.Session())
        body = {"id": f"/load/app-{i:04d}", "cmd": "sleep 1000", "instances": 1, "cpus": 0.01, "mem": 8}
        return session.post(marathon_sim.url + "/v2/apps", json=body, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(create, range(1000)))
    assert codes == [201] * 1000
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        apps = marathon_sim.get("/v2/apps").json()["apps"]
        if sum(a["tasksRunning"] for a in apps) == 1000 and not marathon_sim.get("/v2/deployments").json():
            break
        time.sleep(0.2)
    assert len(apps) == 1000 and sum(a["tasksRunning"] for a in apps) == 1000
    tasks = marathon_sim.get("/v2/tasks").json()["tasks"]
    assert len({(t["host"], t["ports"][0]) for t in tasks}) == 1000  # no host port handed out twice
    assert marathon_sim.http.delete(marathon_sim.url + "/v2/groups/load", params={"force": "true"}).status_code == 200
    deadline = time.monotonic() + 120
    while marathon_sim.get("/v2/tasks").json()["tasks"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marathon_sim.get("/v2/tasks").json()["tasks"] == []
