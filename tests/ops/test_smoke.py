"""Smoke test: every Procfile process under honcho (the `make run` runner) on the test PostgreSQL and Redis with the
simulator; a demo app deployed through HTTP, its job succeeded, metrics moved, Flower listing the task; then Ctrl-C
and nothing left running."""
import os
import re
import secrets
import signal
import socket
import time

import pytest
import requests

from tests.fixtures.processes import PYTHON, free_port, start, stop, wait_for_http
from tests.fixtures.processes import test_env as child_env

pytestmark = pytest.mark.django_db(transaction=True)
PROCESSES = ["web", "worker", "beat", "watcher", "flower", "marathon", "metronome"]
FLOWER_AUTH = ("smoke", secrets.token_urlsafe(10))


def metric(base, name, **labels):
    text = requests.get(f"{base}/metrics", timeout=10).text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{") or line.startswith(f"{name} "):
            series, _, value = line.rpartition(" ")
            got = ",".join(sorted(series[series.find("{") + 1:-1].split(","))) if "{" in series else ""
            if got == wanted:
                return float(value)
    return 0.0


def port_in_use(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_whole_system_deploys_a_demo_app_and_stops_cleanly(tmp_path, private_redis):
    ports = {"PORT": free_port(), "FLOWER_PORT": free_port(), "MARATHON_SIM_PORT": free_port(),
             "METRONOME_PORT": free_port()}
    env = child_env(
        MARACKER_VAR_DIR=tmp_path / "var", MARATHON_SIM_STEP_SECONDS="0.1", WEB_CONCURRENCY="2",
        WORKER_CONCURRENCY="2", FLOWER_BASIC_AUTH=":".join(FLOWER_AUTH), LOG_LEVEL="info",
        MARACKER_SHUTDOWN_GRACE_SECONDS="20", **ports,
        # Its own Redis: the session's test worker must not take this system's jobs.
        REDIS_URL=private_redis.url,
    )
    env.pop("MARATHON_URL", None)  # demo mode: the simulators are among the processes
    env.pop("METRONOME_URL", None)
    log_path = tmp_path / "run.log"
    runner = start([PYTHON, "-m", "config.embedded", *PROCESSES], env=env, log_path=log_path)
    base = f"http://127.0.0.1:{ports['PORT']}"
    flower = f"http://127.0.0.1:{ports['FLOWER_PORT']}"
    log = lambda: log_path.read_text(errors="replace")  # noqa: E731
    try:
        try:
            wait_for_http(f"{base}/readyz", timeout=120, process=runner, ok=lambda r: r.status_code == 200)
        except Exception:
            raise AssertionError(log()[-5000:])
        assert "Maracker is up" in wait_until(lambda: "Maracker is up" in log() and log(), 30, "the banner")
        pids = {name: int(pid) for name, pid in re.findall(r"(\w+) started \(pid=(\d+)\)", log())}
        assert set(pids) == set(PROCESSES), log()[-3000:]

        # Flower hears the worker before anything is deployed (events are not kept for absent listeners).
        wait_until(lambda: any(up for up in requests.get(f"{flower}/api/workers", params={"status": "1"},
                                                          auth=FLOWER_AUTH, timeout=5).json().values()),
                   60, "Flower to hear the worker")
        assert requests.get(f"{flower}/api/tasks", timeout=5).status_code == 401

        # With accounts, `make run` keeps the demo administrator's API token in var/ (and prints it).
        token_file = tmp_path / "var" / "admin_token"
        http = requests.Session()
        if token_file.exists():
            http.headers["Authorization"] = f"Token {token_file.read_text().strip()}"
            assert "Sign in" in log()
        apps = http.get(f"{base}/api/v1/apps/", params={"search": "nginx-test"}, timeout=10).json()["results"]
        config_id = apps[0]["marathon_configs"][0]["id"]
        before = metric(base, "maracker_job_duration_seconds_count", kind="deploy", status="succeeded")

        response = http.post(f"{base}/api/v1/marathon-configs/{config_id}/deploy", json={}, timeout=10)
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]

        def finished():
            job = http.get(f"{base}/api/v1/jobs/{job_id}", params={"wait": 5}, timeout=15).json()
            return job if job["status"] in ("succeeded", "failed", "cancelled") else None

        job = wait_until(finished, 90, "the deploy job")
        assert job["status"] == "succeeded", job
        marathon = requests.get(f"http://127.0.0.1:{ports['MARATHON_SIM_PORT']}/v2/apps{job['marathon_app_id']}",
                                timeout=5)
        assert marathon.status_code == 200

        assert metric(base, "maracker_jobs", kind="deploy", status="succeeded") >= 1
        assert metric(base, "maracker_job_duration_seconds_count", kind="deploy", status="succeeded") == before + 1

        def listed():
            tasks = requests.get(f"{flower}/api/tasks", params={"taskname": "maracker.jobs.execute"},
                                 auth=FLOWER_AUTH, timeout=5).json()
            return [t for t in tasks.values() if job_id in (t.get("args") or "") and t["state"] == "SUCCESS"]

        assert wait_until(listed, 30, "Flower to list the job's task")
    finally:
        # Ctrl-C in a terminal: SIGINT to the runner's process group.
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGINT)
        try:
            returncode = runner.wait(timeout=60)
        finally:
            stop(runner)
    text = log()
    assert returncode == 0, text[-3000:]
    assert "SIGINT received" in text and "Warm shutdown" in text
    for name, pid in pids.items():
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)  # the process group is gone: nothing it started is left
    for name, port in ports.items():
        assert not port_in_use(port), name
