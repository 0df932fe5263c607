"""Flower against a real worker: lists the task it ran, with basic auth, persistent state and Prometheus metrics."""
import secrets
import time

import pytest
import requests

from tests.fixtures.celery_worker import start_worker
from tests.fixtures.processes import PYTHON, free_port, start, stop, wait_for_http
from tests.fixtures.processes import test_env as child_env

USER = "ops"
PASSWORD = secrets.token_urlsafe(12)


def start_flower(tmp_path, port, log_name, redis_url):
    env = child_env(FLOWER_BASIC_AUTH=f"{USER}:{PASSWORD}", REDIS_URL=redis_url)
    args = [PYTHON, "-m", "celery", "-A", "worker.celery", "flower", "--address=127.0.0.1", f"--port={port}",
            "--persistent=True", f"--db={tmp_path / 'flower.db'}", "--state_save_interval=500"]
    process = start(args, env=env, log_path=tmp_path / log_name)
    wait_for_http(f"http://127.0.0.1:{port}/healthcheck", timeout=60, process=process)
    return process


def find_task(base, token, *, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(f"{base}/api/tasks", params={"taskname": "maracker.maintenance.ping"},
                                auth=(USER, PASSWORD), timeout=5)
        assert response.status_code == 200
        for task in response.json().values():
            if token in (task.get("kwargs") or "") and task.get("state") == "SUCCESS":
                return task
        time.sleep(0.3)
    raise AssertionError(f"Flower never listed the ping task {token}")


def wait_for_events_from(base, worker_name, timeout=30):
    """Events are not queued for absent listeners: wait until Flower has heard the worker's heartbeat."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(f"{base}/api/workers", params={"status": "1"}, auth=(USER, PASSWORD), timeout=5)
        if any(name.startswith(worker_name) and up for name, up in response.json().items()):
            return
        time.sleep(0.3)
    raise AssertionError("Flower never heard from the worker")


@pytest.fixture
def worker(tmp_path, private_redis):
    # A Redis of this test's own: the session's worker must not take (and report) the task instead.
    handle = start_worker(str(tmp_path), "http://127.0.0.1:9", queues="maintenance", concurrency=1,
                          REDIS_URL=private_redis.url)
    yield handle
    handle.stop()


def test_flower_lists_a_task_a_real_worker_ran_and_keeps_it_across_restarts(tmp_path, worker, private_redis,
                                                                           isolated_celery):
    app = isolated_celery
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    flower = start_flower(tmp_path, port, "flower-1.log", private_redis.url)
    try:
        assert requests.get(f"{base}/api/tasks", timeout=5).status_code == 401
        assert requests.get(f"{base}/api/tasks", auth=(USER, "wrong"), timeout=5).status_code == 401
        assert requests.get(f"{base}/", timeout=5).status_code == 401

        wait_for_events_from(base, worker.name)
        token = secrets.token_hex(6)
        app.send_task("maracker.maintenance.ping", kwargs={"marker": token})
        task = find_task(base, token)
        assert task["name"] == "maracker.maintenance.ping"
        assert task["worker"].startswith(worker.name)

        metrics = requests.get(f"{base}/metrics", auth=(USER, PASSWORD), timeout=5)
        assert metrics.status_code == 200
        assert 'flower_events_total{' in metrics.text and "maracker.maintenance.ping" in metrics.text
        time.sleep(1.0)  # one state save interval
    finally:
        stop(flower)
    assert list(tmp_path.glob("flower.db*"))  # dbm may add a suffix

    # The worker's own line for the task is JSON and names the task.
    lines = [line for line in worker.log().splitlines() if '"event": "pong"' in line]
    assert lines and token in lines[0] and '"task": "maracker.maintenance.ping"' in lines[0]

    # Persistent state: a new Flower on the same file lists the task without any new event.
    worker.stop()
    flower = start_flower(tmp_path, port, "flower-2.log", private_redis.url)
    try:
        assert find_task(base, token, timeout=10)["uuid"] == task["uuid"]
    finally:
        stop(flower)
