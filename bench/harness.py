"""Benchmark plumbing: a throwaway database, real server processes on free ports, and a concurrent load."""
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import requests

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "dbname=postgres user=postgres host=127.0.0.1 port=5432")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine():
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}"


def recreate_database(name):
    conn = psycopg2.connect(ADMIN_DSN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def drop_database(name):
    conn = psycopg2.connect(ADMIN_DSN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def bench_env(database_url, redis_url, **extra):
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY="bench", DJANGO_SETTINGS_MODULE="bench.settings",
        LOG_LEVEL="warning", PYTHONUNBUFFERED="1",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


def run(args, env):
    subprocess.run(args, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


class Processes:
    """Started processes, stopped (whole process groups) on exit or Ctrl-C."""

    def __init__(self):
        self.procs = []

    def start(self, args, env, log_name):
        log = open(f"/tmp/maracker-bench-{log_name}.log", "wb")
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop(self, proc=None):
        for p in [proc] if proc else list(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
            if p in self.procs:
                self.procs.remove(p)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def wait_http(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def start_gunicorn(procs, env, *, workers=2, threads=8):
    """The web process as the Procfile runs it (config/gunicorn.py: gthread workers), on a free port."""
    port = free_port()
    env = dict(env, PORT=str(port), WEB_HOST="127.0.0.1", WEB_CONCURRENCY=str(workers), WEB_THREADS=str(threads))
    procs.start([PYTHON, "-m", "gunicorn", "config.wsgi", "--config", "python:config.gunicorn",
                 "--backlog", "2048"], env, "gunicorn")
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return f"http://127.0.0.1:{port}"


def api_token(username="bench"):
    """Headers with an administrator's API token (Django set up on the bench database): writes need one."""
    from django.contrib.auth import get_user_model

    from shared.services.tokens import token_create

    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": True, "is_superuser": True})
    _, key = token_create(user, name="bench", expires_days=0)
    return {"Authorization": f"Token {key}"}


def start_simulator(procs, step_seconds=0):
    port = free_port()
    procs.start([PYTHON, "-m", "marathon_sim", "--port", str(port), "--step-seconds", str(step_seconds)],
                dict(os.environ), "marathon-sim")
    wait_http(f"http://127.0.0.1:{port}/ping")
    return f"http://127.0.0.1:{port}"


def load(method, url_for, body_for, *, total, concurrency=16, headers=None):
    """Send `total` requests from `concurrency` threads with keep-alive; returns (seconds, latencies, codes)."""
    local = threading.local()
    latencies = []
    codes = {}
    lock = threading.Lock()

    def one(i):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        started = time.perf_counter()
        response = session.request(method, url_for(i), json=body_for(i), headers=headers, timeout=30)
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            codes[response.status_code] = codes.get(response.status_code, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(total)))
    return time.perf_counter() - started, latencies, codes


def pct(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(name, seconds, latencies, codes):
    rate = len(latencies) / seconds if seconds else 0
    return {
        "name": name, "requests": len(latencies), "seconds": round(seconds, 2), "per_second": round(rate, 1),
        "p50_ms": round(pct(latencies, 50) * 1000, 1), "p99_ms": round(pct(latencies, 99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None, "codes": codes,
    }


def cpu_by_role(procs):
    """CPU seconds used so far by each started process (with its children) and by PostgreSQL and Redis."""
    import psutil

    totals = {}

    def add(role, process):
        try:
            times = process.cpu_times()
            totals[role] = totals.get(role, 0) + times.user + times.system
        except psutil.Error:
            pass

    for proc in procs.procs:
        role = Path(proc.args[2] if proc.args[1] == "-m" else proc.args[1]).name
        if "watch_marathon" in proc.args:
            role = "watcher"
        elif "worker" in proc.args:
            role = "celery worker"
        try:
            parent = psutil.Process(proc.pid)
        except psutil.Error:
            continue
        for process in [parent, *parent.children(recursive=True)]:
            add(role, process)
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in ("postgres", "redis-server"):
            add(process.info["name"], process)
    add("bench clients", psutil.Process())
    return totals


def cpu_per_request(before, after, requests):
    return {role: round((after[role] - before.get(role, 0)) * 1000 / requests, 2) for role in after
            if role in ("gunicorn", "postgres", "redis-server", "bench clients")}
