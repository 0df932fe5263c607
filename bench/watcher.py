"""Benchmark: the watcher's events per second (parsing, correlation, database writes) and its lag at 200 events/s.

Run: .venv/bin/python bench/watcher.py [--apps 200] [--instances 10] [--lag-seconds 20]
Creates and drops its own database (maracker_bench_watcher), uses Redis database 13 for the health key, and
starts the Marathon simulator (step time 0) on a free loopback port. In one run:
  A. live: the watcher (in this process, its real loop and reader thread) follows the simulator while --apps
     apps of --instances tasks each are deployed, each as a job; events/s from first to last event handled;
  B. replay: the events recorded in A, framed as server-sent events again, parsed by the client's stream
     class and pushed through the same batch path at full speed (the simulator cannot publish as fast as the
     watcher handles), with the jobs and deployments put back as they were before A;
  C. lag: scale changes paced so the watcher receives a steady 200 events/s for --lag-seconds; lag is the
     time the batch holding an event was committed minus the event's timestamp (p50, p99, max).
"""
import argparse
import io
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = "maracker_bench_watcher"
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/13"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin(sql):
    import psycopg2

    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql)
    conn.close()


def start_simulator(port):
    log = open(Path(tempfile.gettempdir()) / f"bench-watcher-sim-{port}.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "marathon_sim", "--host", "127.0.0.1", "--port", str(port), "--step-seconds", "0",
         "--max-running-deployments", "10000", "--max-outstanding-events", "100000"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    import requests

    for _ in range(200):
        try:
            if requests.get(f"http://127.0.0.1:{port}/ping", timeout=1).ok:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise RuntimeError("the simulator did not start")


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def app_definition(marathon_id, instances):
    return {"id": marathon_id, "cpus": 0.01, "mem": 16, "instances": instances,
            "container": {"type": "DOCKER", "docker": {"image": "nginx"},
                          "portMappings": [{"containerPort": 80, "hostPort": 0}]},
            "networks": [{"mode": "container/bridge"}]}


class RecordingWatcher:
    """The real Watcher, also keeping every event it handled (for the replay)."""

    def __new__(cls, **options):
        from worker.watcher import Watcher

        class _Recording(Watcher):
            def __init__(self, **kw):
                super().__init__(**kw)
                self.recorded = []
                self.recording = True

            def process(self, batch):
                result = super().process(batch)
                if self.recording:
                    self.recorded.extend(batch)
                return result

        return _Recording(**options)


def seed(apps, instances):
    from decimal import Decimal

    from django.utils import timezone

    from shared.models import App, Deployment, DockerContainer, Job, JobKind, JobStatus, MarathonConfig

    rows = App.objects.bulk_create([App(name=f"bench-{i}") for i in range(apps)])
    DockerContainer.objects.bulk_create([DockerContainer(app=a, image="nginx", ports=[80]) for a in rows])
    configs = MarathonConfig.objects.bulk_create(
        [MarathonConfig(app=a, cpu=Decimal("0.01"), memory=16, instances=instances) for a in rows])
    now = timezone.now()
    jobs = []
    for config in configs:
        marathon_id = f"/maracker/{config.app.name}/{config.pk}"
        Deployment.objects.create(config=config, app=config.app, marathon_app_id=marathon_id,
                                  status="deploying", instances=instances)
        jobs.append(Job.objects.create(kind=JobKind.DEPLOY, status=JobStatus.RUNNING, config=config, app=config.app,
                                       app_name=config.app.name, marathon_app_id=marathon_id, attempts=1,
                                       started_at=now, deadline=now + timedelta(hours=1)))
    return jobs


def deploy_all(client, jobs, instances):
    """PUT every app (8 at a time) and record Marathon's answer on its job, as the worker does."""
    from django.db import connection

    from shared.services import jobs as job_services

    def one(job):
        result = client.create_or_replace_app(app_definition(job.marathon_app_id, instances))
        try:
            job_services.job_mark_waiting(job, deployment_id=result.deployment_id, version=result.version or "")
        finally:
            connection.close()
        return result

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, jobs))


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


def phase_live(watcher, client, jobs, instances):
    from shared.models import Job

    stats = watcher.stats
    start_events = stats.events
    started = time.perf_counter()
    first = {}

    original = watcher.process

    def timed(batch):
        first.setdefault("t", time.perf_counter())
        result = original(batch)
        first["last"] = time.perf_counter()
        return result

    watcher.process = timed
    deploy_all(client, jobs, instances)
    wait_for(lambda: not Job.objects.filter(status__in=["running", "waiting"]).exists(), 600, "jobs settled")
    expected_tasks = len(jobs) * instances
    last_count = -1
    while stats.events != last_count:  # until the stream is quiet for a second
        last_count = stats.events
        time.sleep(1.0)
    watcher.process = original
    events = stats.events - start_events
    seconds = first["last"] - first["t"]
    settled = Job.objects.filter(status="succeeded").count()
    return {"events": events, "seconds": seconds, "rate": events / seconds, "jobs": settled,
            "tasks": expected_tasks, "wall": time.perf_counter() - started}


def reset_to_before(jobs, instances):
    from shared.models import Deployment, Job, JobEvent

    ids = [job.pk for job in jobs]
    JobEvent.objects.filter(job_id__in=ids).exclude(type__in=["created", "marathon_request"]).delete()
    for job in Job.objects.filter(pk__in=ids):
        Job.objects.filter(pk=job.pk).update(status="waiting", finished_at=None, result=None)
        Deployment.objects.filter(marathon_app_id=job.marathon_app_id).update(
            status="deploying", deployment_id=job.deployment_id, tasks={}, tasks_staged=0, tasks_running=0,
            tasks_healthy=0, tasks_unhealthy=0, last_failure="", last_event_at=None, instances=instances)


def phase_replay(recorded, batch_size):
    from shared.marathon.client import MarathonEventStream
    from shared.marathon.errors import MarathonUnavailable
    from shared.models import Job
    from shared.services.watcher import WATCHED_EVENT_TYPES, WatcherMemory, watcher_handle_events

    framed = b"".join(f"event: {e.event_type}\r\ndata: {e.raw}\r\n\r\n".encode() for e in recorded)
    response = SimpleNamespace(raw=io.BytesIO(framed), close=lambda: None)
    stream = MarathonEventStream(response, SimpleNamespace(close=lambda: None), "replay", WATCHED_EVENT_TYPES, 60)
    memory = WatcherMemory()
    count = 0
    started = time.perf_counter()
    batch = []
    try:
        for event in stream:
            batch.append(event)
            if len(batch) >= batch_size:
                watcher_handle_events(batch, memory=memory)
                count += len(batch)
                batch = []
    except MarathonUnavailable:  # the end of the bytes reads as a closed stream
        pass
    if batch:
        watcher_handle_events(batch, memory=memory)
        count += len(batch)
    seconds = time.perf_counter() - started
    return {"events": count, "seconds": seconds, "rate": count / seconds,
            "succeeded": Job.objects.filter(status="succeeded").count(), "bytes": len(framed)}


def phase_lag(watcher, client, jobs, instances, seconds, rate=200.0, events_per_op=8.0):
    """Scale apps up and down so that about `rate` events/s reach the watcher; lags of what it handled."""
    stats = watcher.stats
    stats.keep_lags = True
    lag_start = len(stats.lags)
    events_start = stats.events
    up = {}
    ops = 0
    started = time.monotonic()
    index = 0
    while time.monotonic() - started < seconds:
        elapsed = time.monotonic() - started
        deficit = rate * elapsed - (stats.events - events_start) - ops_in_flight(ops, stats, events_start,
                                                                                  events_per_op)
        for _ in range(min(5, max(0, int(deficit / events_per_op)))):
            job = jobs[index % len(jobs)]
            index += 1
            target = instances if up.get(job.pk) else instances + 1
            up[job.pk] = not up.get(job.pk)
            client.scale_app(job.marathon_app_id, target, force=True)
            ops += 1
        time.sleep(0.02)
    paced = time.monotonic() - started
    during = stats.events - events_start
    time.sleep(2.0)
    lags = stats.lags[lag_start:]
    total = stats.events - events_start
    return {"events": total, "seconds": paced, "rate": during / paced, "ops": ops,
            "p50": pct(lags, 0.50), "p99": pct(lags, 0.99), "max": max(lags) if lags else float("nan")}


def ops_in_flight(ops, stats, events_start, events_per_op):
    """Events expected from operations sent but not yet seen (keeps the pacing from overshooting)."""
    return max(0.0, ops * events_per_op - (stats.events - events_start))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    port = free_port()
    admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    admin(f"CREATE DATABASE {DB_NAME}")
    os.environ.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}", REDIS_URL=REDIS_URL,
                      SECRET_KEY="bench", DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="warning",
                      MARATHON_URL=f"http://127.0.0.1:{port}")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    sim = start_simulator(port)
    stop = threading.Event()
    thread = None
    try:
        from shared.marathon.client import MarathonClient

        client = MarathonClient(f"http://127.0.0.1:{port}", read_timeout=30)
        jobs = seed(args.apps, args.instances)
        watcher = RecordingWatcher(urls=[f"http://127.0.0.1:{port}"], batch_size=args.batch_size,
                                   stop_event=stop, health_interval=1.0)
        thread = threading.Thread(target=watcher.run, daemon=True)
        thread.start()
        wait_for(lambda: watcher.stats.resyncs >= 1, 30, "the watcher connected")

        live = phase_live(watcher, client, jobs, args.instances)
        watcher.recording = False
        recorded = list(watcher.recorded)
        for job in jobs:
            job.refresh_from_db()
        status_types = {"status_update_event", "instance_changed_event", "health_status_changed_event"}
        status_share = sum(1 for e in recorded if e.event_type in status_types) / max(1, len(recorded))
        lag = phase_lag(watcher, client, jobs, args.instances, args.lag_seconds)
        stop.set()
        thread.join(15)
        thread = None

        reset_to_before(jobs, args.instances)
        replay = phase_replay(recorded, args.batch_size)

        print(f"# Watcher benchmark, {datetime.now():%Y-%m-%d}, nproc {os.cpu_count()}, "
              f"Python {platform.python_version()}, {platform.system()} {platform.machine()}")
        print(f"apps {args.apps} x {args.instances} instances, batch size {args.batch_size}, "
              f"status events {status_share:.0%} of the stream")
        print(f"A. live from the simulator: {live['events']} events in {live['seconds']:.2f}s = "
              f"{live['rate']:,.0f} events/s ({live['jobs']} jobs settled by events, {live['tasks']} tasks)")
        print(f"B. replay through parsing + correlation + database: {replay['events']} events in "
              f"{replay['seconds']:.2f}s = {replay['rate']:,.0f} events/s ({replay['succeeded']} jobs settled); "
              f"replay/live = {replay['rate'] / live['rate']:.1f}x")
        print(f"C. lag at a steady {lag['rate']:.0f} events/s for {lag['seconds']:.0f}s ({lag['ops']} scale "
              f"changes, {lag['events']} events): p50 {lag['p50'] * 1000:.0f} ms, p99 {lag['p99'] * 1000:.0f} ms, "
              f"max {lag['max'] * 1000:.0f} ms")
        print(f"targets: >= 2,000 status events/s -> {'met' if replay['rate'] >= 2000 else 'NOT met'} (replay), "
              f"{'met' if live['rate'] >= 2000 else 'not met'} (live); lag p99 < 1 s -> "
              f"{'met' if lag['p99'] < 1 else 'NOT met'}")
    finally:
        stop.set()
        if thread is not None:
            thread.join(15)
        sim.terminate()
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()
        from django.db import connections

        connections.close_all()
        admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
