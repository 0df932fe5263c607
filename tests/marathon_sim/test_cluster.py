"""Life cycle in the simulator: deployment steps and timing, tasks, failing images, health, locks, rollback."""
import time


DOCKER = {"type": "DOCKER", "docker": {"image": "nginx:1.27"},
          "portMappings": [{"containerPort": 80, "hostPort": 0, "name": "http"}]}


def web(app_id="/web", instances=1, image="nginx:1.27", **extra):
    container = {**DOCKER, "docker": {"image": image}}
    return {"id": app_id, "instances": instances, "cpus": 0.1, "mem": 32, "container": container,
            "networks": [{"mode": "container/bridge"}], **extra}


def create(sim, body):
    resp = sim.http.post(sim.url + "/v2/apps", json=body, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp


def test_create_goes_through_two_timed_steps_and_runs_tasks_on_agent_ports(marathon_sim):
    marathon_sim.set_step_seconds(0.3)
    with marathon_sim.events() as stream:
        stream.attached.wait(5)
        started = time.monotonic()
        resp = create(marathon_sim, web(instances=2))
        dep = resp.headers["Marathon-Deployment-Id"]
        assert resp.json()["deployments"] == [{"id": dep}]
        listed = marathon_sim.get("/v2/deployments").json()
        assert [d["id"] for d in listed] == [dep] and listed[0]["totalSteps"] == 2
        stream.wait_type("deployment_success", id=dep)
        elapsed = time.monotonic() - started
        kinds = stream.types()
    assert elapsed >= 0.6  # two steps of at least the step time each (a lower bound, not a speed check)
    order = [k for k in kinds if k in ("api_post_event", "deployment_info", "deployment_step_success",
                                       "deployment_success")]
    assert order == ["api_post_event", "deployment_info", "deployment_step_success", "deployment_info",
                     "deployment_step_success", "deployment_success"]
    states = [p["taskStatus"] for _, p in stream.events if p["eventType"] == "status_update_event"]
    assert states.count("TASK_STAGING") == 2 and states.count("TASK_RUNNING") == 2
    assert states.index("TASK_STAGING") < states.index("TASK_STARTING") < states.index("TASK_RUNNING")
    assert "instance_changed_event" in kinds and "group_change_success" in kinds
    app = marathon_sim.get("/v2/apps/web").json()["app"]
    assert app["tasksRunning"] == 2 and app["deployments"] == []
    for task in app["tasks"]:
        assert 31000 <= task["ports"][0] <= 32000
        assert task["servicePorts"] == [app["container"]["portMappings"][0]["servicePort"]]
        assert task["host"].startswith("agent-") and task["startedAt"]


def test_scale_up_and_down_and_kill_selection(marathon_sim):
    create(marathon_sim, web(instances=1))
    first = marathon_sim.wait_deployed("/web")["tasks"][0]["id"]
    assert marathon_sim.http.put(marathon_sim.url + "/v2/apps/web", json={"instances": 3}).status_code == 200
    assert marathon_sim.wait_deployed("/web")["tasksRunning"] == 3
    with marathon_sim.events(["status_update_event"]) as stream:
        resp = marathon_sim.http.patch(marathon_sim.url + "/v2/apps/web", json={"instances": 1})
        assert resp.status_code == 200
        app = marathon_sim.wait_deployed("/web")
        stream.wait_type("status_update_event", taskStatus="TASK_KILLED")
        assert "TASK_KILLING" in [p["taskStatus"] for _, p in stream.events]
    assert [t["id"] for t in app["tasks"]] == [first]  # YOUNGEST_FIRST keeps the oldest
    assert app["versionInfo"]["lastConfigChangeAt"] != app["versionInfo"]["lastScalingAt"]


def test_restart_replaces_every_task_new_before_old(marathon_sim):
    create(marathon_sim, web(instances=2))
    before = {t["id"] for t in marathon_sim.wait_deployed("/web")["tasks"]}
    with marathon_sim.events(["status_update_event"]) as stream:
        stream_start = len(stream.events)
        resp = marathon_sim.http.post(marathon_sim.url + "/v2/apps/web/restart")
        assert resp.status_code == 200 and resp.headers["Marathon-Deployment-Id"] == resp.json()["deploymentId"]
        app = marathon_sim.wait_deployed("/web")
        seq = [(p["taskId"] in before, p["taskStatus"]) for _, p in stream.events[stream_start:]]
    after = {t["id"] for t in app["tasks"]}
    assert len(after) == 2 and not (after & before)
    last_new_running = max(i for i, (old, s) in enumerate(seq) if not old and s == "TASK_RUNNING")
    first_old_kill = min(i for i, (old, s) in enumerate(seq) if old and s == "TASK_KILLING")
    assert last_new_running < first_old_kill


def test_delete_kills_tasks_and_terminates(marathon_sim):
    create(marathon_sim, web(instances=2))
    marathon_sim.wait_deployed("/web")
    with marathon_sim.events() as stream:
        resp = marathon_sim.http.delete(marathon_sim.url + "/v2/apps/web")
        assert resp.status_code == 200
        assert marathon_sim.get("/v2/apps/web").status_code == 404  # gone at once
        stream.wait_type("deployment_success", id=resp.json()["deploymentId"])
        kinds = stream.types()
    assert kinds.count("app_terminated_event") == 1
    assert kinds.index("app_terminated_event") < kinds.index("deployment_success")
    states = [p["taskStatus"] for _, p in stream.events if p["eventType"] == "status_update_event"]
    assert states.count("TASK_KILLED") == 2
    assert marathon_sim.get("/v2/tasks").json()["tasks"] == []


def test_failing_image_backs_off_and_never_finishes(marathon_sim):
    body = web("/bad", image="example/fail-app:1", backoffSeconds=1, backoffFactor=2, maxLaunchDelaySeconds=3)
    with marathon_sim.events(["status_update_event"]) as stream:
        dep = create(marathon_sim, body).headers["Marathon-Deployment-Id"]
        deadline = time.monotonic() + 20
        failures = []
        while len(failures) < 3 and time.monotonic() < deadline:
            failures = [p for _, p in stream.events if p["taskStatus"] == "TASK_FAILED"]
            time.sleep(0.05)
        assert len(failures) >= 3
        assert "pull" in failures[0]["message"]
        queue = marathon_sim.get("/v2/queue").json()["queue"]
    entry = next(q for q in queue if q["app"]["id"] == "/bad")
    assert entry["count"] == 1 and set(entry["delay"]) == {"timeLeftSeconds", "overdue"}
    assert [d["id"] for d in marathon_sim.get("/v2/deployments").json()] == [dep]
    app = marathon_sim.get("/v2/apps/bad").json()["app"]
    assert app["lastTaskFailure"]["state"] == "TASK_FAILED" and app["deployments"] == [{"id": dep}]
    # the gaps between launches grow (1 s, then 2 s) and are capped by maxLaunchDelaySeconds
    stamps = [p["timestamp"] for p in failures[:3]]
    assert stamps == sorted(stamps)
    assert marathon_sim.http.delete(marathon_sim.url + "/v2/queue/bad/delay").status_code == 204


def test_lock_conflict_force_and_rollback(marathon_sim):
    create(marathon_sim, web("/ok", instances=1))
    marathon_sim.wait_deployed("/ok")
    dep = marathon_sim.http.put(marathon_sim.url + "/v2/apps/ok",
                                json={"container": {**DOCKER, "docker": {"image": "x/fail:2"}}}).json()["deploymentId"]
    for method, path in (("PUT", "/v2/apps/ok"), ("POST", "/v2/apps/ok/restart")):
        resp = marathon_sim.http.request(method, marathon_sim.url + path, json={"instances": 2})
        assert resp.status_code == 409
        assert resp.json()["deployments"] == [{"id": dep}]
    resp = marathon_sim.http.delete(marathon_sim.url + "/v2/apps/ok", params={"force": "false"})
    assert resp.status_code == 409
    with marathon_sim.events() as stream:
        rollback = marathon_sim.http.delete(marathon_sim.url + f"/v2/deployments/{dep}")
        assert rollback.status_code == 200 and rollback.json()["deploymentId"] != dep
        stream.wait_type("deployment_failed", id=dep)
        stream.wait_type("deployment_success", id=rollback.json()["deploymentId"])
    app = marathon_sim.wait_deployed("/ok")
    assert app["container"]["docker"]["image"] == "nginx:1.27" and app["tasksRunning"] == 1


def test_rollback_of_a_create_removes_the_app(marathon_sim):
    dep = create(marathon_sim, web("/stuck", image="registry.invalid/x:1")).headers["Marathon-Deployment-Id"]
    resp = marathon_sim.http.delete(marathon_sim.url + f"/v2/deployments/{dep}")
    assert resp.status_code == 200
    deadline = time.monotonic() + 10
    while marathon_sim.get("/v2/apps/stuck").status_code != 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marathon_sim.get("/v2/apps/stuck").status_code == 404
    assert marathon_sim.http.delete(marathon_sim.url + f"/v2/deployments/{dep}").status_code == 404


def test_health_checks_report_and_unhealthy_tasks_are_replaced(marathon_sim):
    checks = [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0, "maxConsecutiveFailures": 2}]
    with marathon_sim.events() as stream:
        create(marathon_sim, web("/hc", healthChecks=checks))
        app = marathon_sim.wait_deployed("/hc")
        assert app["tasksHealthy"] == 1 and app["tasks"][0]["healthCheckResults"][0]["alive"] is True
        stream.wait_type("health_status_changed_event", appId="/hc", alive=True)
        old_task = app["tasks"][0]["id"]
        marathon_sim.set_app_health("/hc", True)
        stream.wait_type("failed_health_check_event", appId="/hc")
        stream.wait_type("health_status_changed_event", appId="/hc", alive=False)
        kill = stream.wait_type("unhealthy_instance_kill_event", appId="/hc")
        assert kill["taskId"] == old_task
        marathon_sim.set_app_health("/hc", False)
        stream.wait_for(lambda p: p.get("eventType") == "status_update_event" and p["taskId"] != old_task
                        and p["taskStatus"] == "TASK_RUNNING")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        app = marathon_sim.get("/v2/apps/hc").json()["app"]
        if app["tasksHealthy"] == 1 and app["tasks"][0]["id"] != old_task:
            break
        time.sleep(0.05)
    assert app["tasksHealthy"] == 1 and app["tasks"][0]["id"] != old_task


def test_killed_task_is_replaced_unless_scaled(marathon_sim):
    create(marathon_sim, web(instances=2))
    tasks = marathon_sim.wait_deployed("/web")["tasks"]
    resp = marathon_sim.http.delete(marathon_sim.url + f"/v2/apps/web/tasks/{tasks[0]['id']}")
    assert resp.status_code == 200 and resp.json()["task"]["id"] == tasks[0]["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        app = marathon_sim.get("/v2/apps/web").json()["app"]
        ids = {t["id"] for t in app["tasks"]}
        if app["tasksRunning"] == 2 and tasks[0]["id"] not in ids:
            break
        time.sleep(0.05)
    assert app["tasksRunning"] == 2 and tasks[0]["id"] not in ids
    resp = marathon_sim.http.post(marathon_sim.url + "/v2/tasks/delete", params={"scale": "true"},
                                  json={"ids": [app["tasks"][0]["id"]]})
    assert resp.status_code == 200
    app = marathon_sim.wait_deployed("/web")
    assert app["instances"] == 1
    deadline = time.monotonic() + 10
    while marathon_sim.get("/v2/apps/web").json()["app"]["tasksRunning"] != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marathon_sim.get("/v2/apps/web").json()["app"]["tasksRunning"] == 1


def test_lists_filters_embed_versions_groups(marathon_sim):
    create(marathon_sim, web("/prod/web", instances=1, labels={"tier": "front", "a.b/c": "x y"}))
    create(marathon_sim, {"id": "/prod/db", "cmd": "run-db", "instances": 0})
    marathon_sim.wait_deployed("/prod/web")
    apps = marathon_sim.get("/v2/apps", params={"id": "PROD/W"}).json()["apps"]
    assert [a["id"] for a in apps] == ["/prod/web"] and "tasks" not in apps[0]
    assert [a["id"] for a in marathon_sim.get("/v2/apps", params={"cmd": "run-"}).json()["apps"]] == ["/prod/db"]
    for selector, expected in (("tier==front", ["/prod/web"]), ("tier!=front", ["/prod/db"]),
                               ("tier in (back, front)", ["/prod/web"]), ("a.b/c", ["/prod/web"])):
        found = marathon_sim.get("/v2/apps", params={"label": selector}).json()["apps"]
        assert [a["id"] for a in found] == expected, selector
    embedded = marathon_sim.get("/v2/apps", params=[("embed", "apps.tasks"), ("embed", "apps.taskStats")])
    assert all("tasks" in a and "taskStats" in a for a in embedded.json()["apps"])
    star = marathon_sim.get("/v2/apps/prod/*").json()
    assert sorted(a["id"] for a in star["*"]) == ["/prod/db", "/prod/web"]
    assert marathon_sim.get("/v2/apps/nope/*").status_code == 404
    assert marathon_sim.get("/v2/apps/prod").status_code == 404
    versions = marathon_sim.get("/v2/apps/prod/web/versions").json()["versions"]
    assert len(versions) == 1
    assert marathon_sim.get(f"/v2/apps/prod/web/versions/{versions[0]}").json()["id"] == "/prod/web"
    group = marathon_sim.get("/v2/groups").json()
    assert group["groups"][0]["id"] == "/prod" and len(group["groups"][0]["apps"]) == 2
    text = marathon_sim.get("/v2/tasks", headers={"Accept": "text/plain"}).text
    assert text.startswith("prod_web\t")
    assert len(marathon_sim.get("/v2/tasks", params={"status": "running"}).json()["tasks"]) == 1
    resp = marathon_sim.http.delete(marathon_sim.url + "/v2/groups/prod", params={"force": "true"})
    assert resp.status_code == 200 and marathon_sim.get("/v2/apps").json()["apps"] == []


def test_version_rollback_by_put(marathon_sim):
    create(marathon_sim, web("/v", instances=1))
    first = marathon_sim.wait_deployed("/v")["version"]
    marathon_sim.http.put(marathon_sim.url + "/v2/apps/v", json={"env": {"A": "1"}})
    assert marathon_sim.wait_deployed("/v")["env"] == {"A": "1"}
    resp = marathon_sim.http.put(marathon_sim.url + "/v2/apps/v", json={"version": first})
    assert resp.status_code == 200
    assert marathon_sim.wait_deployed("/v")["env"] == {}
    bad = marathon_sim.http.put(marathon_sim.url + "/v2/apps/v", json={"version": first, "cpus": 2})
    assert bad.status_code == 422


def test_too_many_deployments_is_403(marathon_sim_factory):
    sim = marathon_sim_factory(extra_args=["--max-running-deployments", "2"])
    for i in range(2):
        create(sim, web(f"/s{i}", image="x/fail:1"))
    resp = sim.http.post(sim.url + "/v2/apps", json=web("/s2"))
    assert resp.status_code == 403 and "Max number (2)" in resp.json()["message"]
