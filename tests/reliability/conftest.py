"""Shared pieces of the reliability scenarios: sizes, a private Redis, and the real processes they break.

Every scenario runs its workers, watcher and web server on a Redis server of its own (so no other worker of
the session takes its messages, and restarting or flushing it touches nothing else), and tags its database
connections with an application_name starting with `maracker-rel` (so a scenario can cut exactly those).
RELIABILITY_FULL=1 (`make reliability`) selects the full sizes; otherwise the quick ones run (`make test`).
"""
import json
import os
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit


from tests.fixtures.celery_worker import start_worker
from tests.fixtures.processes import PYTHON, ROOT, free_port, start, stop, test_env, wait_for_http
from tests.fixtures.watcher import start_watcher

FULL = os.environ.get("RELIABILITY_FULL", "").lower() in ("1", "true", "yes")
APP_NAME_PREFIX = "maracker-rel"
ARTIFACTS = ROOT / "test-artifacts"
TERMINAL = ("succeeded", "failed", "cancelled")


def size(quick, full):
    """The quick size under `make test`, the full one under `make reliability`."""
    return full if FULL else quick


def database_url(role):
    """The test database's URL for a child process, its connections named maracker-rel-<role>."""
    return test_env()["DATABASE_URL"] + f"?application_name={APP_NAME_PREFIX}-{role}"


def process_env(redis_url, role, **extra):
    return {"REDIS_URL": redis_url, "DATABASE_URL": database_url(role), **extra}


def rel_worker(tmp_dir, sim_url, redis_url, *, beat=False, concurrency=2, queues="deploy,webhooks,maintenance",
               **env):
    """A Celery worker (with embedded beat when asked) that leaves settling to the watcher, as in production."""
    env = {"JOB_WORKER_POLLING": "false", **env}
    return start_worker(str(tmp_dir), sim_url, beat=beat, concurrency=concurrency, queues=queues,
                        **process_env(redis_url, "worker", **env))


def rel_watcher(tmp_dir, sim_url, redis_url, **env):
    handle = start_watcher(str(tmp_dir), sim_url, **process_env(redis_url, "watcher", **env))
    handle.wait_active()
    return handle


class WebServer:
    """gunicorn serving the project on the test database, as `make run` serves it."""

    def __init__(self, process, url, log_path):
        self.process = process
        self.url = url
        self.log_path = log_path

    def log(self):
        return Path(self.log_path).read_text(errors="replace") if Path(self.log_path).exists() else ""

    def stop(self):
        stop(self.process)


def start_web(tmp_dir, redis_url, *, workers=2, threads=8, **env):
    port = free_port()
    log_path = os.path.join(str(tmp_dir), f"gunicorn-{port}.log")
    child_env = test_env(**process_env(
        redis_url, "web", PORT=port, WEB_HOST="127.0.0.1", WEB_CONCURRENCY=workers, WEB_THREADS=threads,
        MARATHON_URL="http://127.0.0.1:9", LOG_LEVEL="warning", **env))
    process = start([PYTHON, "-m", "gunicorn", "config.wsgi", "--config", "python:config.gunicorn"],
                    env=child_env, log_path=log_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/healthz", timeout=60, process=process)
    except Exception:
        stop(process)
        raise RuntimeError(f"gunicorn did not start:\n{Path(log_path).read_text(errors='replace')[-3000:]}")
    return WebServer(process, url, log_path)


def api_headers(username=None):
    """Authorization headers of a new admin user's API token (empty when the project has no tokens)."""
    try:
        from shared.services.tokens import token_create
    except ImportError:
        return {}
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser(username or f"rel-{uuid.uuid4().hex[:10]}", password=None)
    _, key = token_create(user, name="reliability")
    return {"Authorization": f"Token {key}"}


def wait_terminal(job_ids, timeout, *, poll=0.25):
    """Wait until every job is terminal; returns {status: count}. Fails listing what is still active."""
    from shared.models import Job

    job_ids = list(job_ids)
    deadline = time.monotonic() + timeout
    while True:
        active = Job.objects.filter(pk__in=job_ids).exclude(status__in=TERMINAL)
        if not active.exists():
            break
        if time.monotonic() > deadline:
            left = list(active.values_list("pk", "status", "attempts", "last_error")[:10])
            raise AssertionError(f"{active.count()} of {len(job_ids)} jobs still active after {timeout}s: {left}")
        time.sleep(poll)
    counts = {}
    for status in Job.objects.filter(pk__in=job_ids).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def marathon_apps(sim):
    return [app["id"] for app in sim.get("/v2/apps").json()["apps"]]


def sim_received_method(sim, method, prefix="/v2/apps"):
    """How many `method` requests under `prefix` the simulator received."""
    data = sim.received(limit=0)
    return sum(n for key, n in data["methodCounts"].items()
               if key.startswith(f"{method} {prefix}"))


def write_artifact(name, data):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def report(title, figures):
    """Print a scenario's figures (visible with -s, and in the captured output of a failure)."""
    print(f"\n[reliability] {title}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def host_port(url):
    parts = urlsplit(url)
    return parts.hostname, parts.port


def port_is_free(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
