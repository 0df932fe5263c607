"""Webhook deliveries per second to a fast local receiver with two worker processes, beside bare HTTP posts.

Run: .venv/bin/python bench/webhooks.py [--deliveries 2000] [--idle 50]
Creates and drops its own database (maracker_bench_webhooks) and runs its own Redis server on a free port.

Figures: (1) a burst of N events written in one transaction (the outbox rows plus their messages on commit),
delivered by one Celery worker with two processes (signing, the SSRF check, the HTTP POST, the attempt and
status rows); deliveries per second from commit to the last receipt, and event-to-receipt latency.
(2) The reference, measured in the same run: two processes POSTing the same bodies to the same receiver with
keep-alive and nothing else (no broker, no database, no signing). (3) Event-to-receipt latency when idle.
"""
import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    PYTHON,
    Processes,
    bench_env,
    drop_database,
    free_port,
    machine,
    pct,
    recreate_database,
    run,
)

DB_NAME = "maracker_bench_webhooks"


class Receiver:
    """A keep-alive HTTP receiver answering 204 at once and noting when each webhook-id arrived."""

    def __init__(self):
        self.arrivals = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                now = time.time()
                with receiver.lock:
                    receiver.arrivals[self.headers.get("webhook-id") or f"bare-{len(receiver.arrivals)}"] = (now, body)
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self):
        with self.lock:
            return len(self.arrivals)

    def wait(self, count, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= count:
                return True
            time.sleep(0.01)
        return False

    def reset(self):
        with self.lock:
            self.arrivals.clear()


def start_redis(procs, directory):
    port = free_port()
    procs.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", directory], dict(os.environ), "webhooks-redis")
    import redis

    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return url
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _bare_poster(url, count, body):
    import urllib3

    pool = urllib3.PoolManager(maxsize=1)
    for _ in range(count):
        pool.request("POST", url, body=body, headers={"content-type": "application/json"}, retries=False)


def bare_posts(url, total, body):
    """The reference: two processes POSTing `total` bodies, nothing else. Returns seconds."""
    half = total // 2
    started = time.perf_counter()
    workers = [multiprocessing.Process(target=_bare_poster, args=(url, n, body)) for n in (half, total - half)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started


def worker_cpu_seconds(pid):
    """User + system CPU time of a worker and its pool processes (a figure less noisy than wall time on a
    shared machine)."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def latencies_ms(arrivals):
    out = []
    for _at, body in arrivals.values():
        try:
            stamp = json.loads(body)["timestamp"]
        except (ValueError, KeyError):
            continue
        event = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        out.append((_at - event) * 1000)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--idle", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()

    receiver = Receiver()
    hook_url = f"http://127.0.0.1:{receiver.port}/hook"
    database_url = recreate_database(DB_NAME)
    results = {"machine": machine(), "date": datetime.now().isoformat(timespec="seconds"), "rounds": []}
    redis_dir = tempfile.mkdtemp(prefix="maracker-bench-redis-")
    try:
        with Processes() as procs:
            redis_url = start_redis(procs, redis_dir)
            env = bench_env(database_url, redis_url, WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_ALLOW_HTTP="true",
                            MARATHON_URL="http://127.0.0.1:9")
            run([PYTHON, "manage.py", "migrate", "-v", "0"], env)
            os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE",
                                                   "WEBHOOK_ALLOW_PRIVATE", "WEBHOOK_ALLOW_HTTP", "MARATHON_URL",
                                                   "LOG_LEVEL")})
            import django

            django.setup()
            from django.db import connection, transaction

            import worker.celery  # noqa: F401  (the Celery app, so events publish to this run's Redis)
            from shared.models import WebhookAttempt, WebhookDelivery
            from shared.services import webhooks as hooks

            hooks.webhook_subscription_create(data={"url": hook_url, "event_types": ["job.succeeded"]})
            sample = {"type": "job.succeeded", "timestamp": "2026-01-01T00:00:00Z",
                      "data": {"id": "00000000-0000-0000-0000-000000000000", "status": "succeeded", "x": "y" * 600}}
            body = json.dumps(sample).encode()
            data = sample["data"]

            worker_proc = procs.start([PYTHON, "-m", "celery", "-A", "worker.celery", "worker", "-Q", "webhooks",
                                       "-c", "2", "-n", "bench-hooks@%h", "--without-gossip", "--without-mingle",
                                       "-l", "warning"], env, "webhooks-worker")
            # Warm up: the worker's processes, their database connections and keep-alive connections.
            with transaction.atomic():
                for _ in range(50):
                    hooks.event_emit("job.succeeded", data)
            if not receiver.wait(50, timeout=60):
                raise SystemExit("the worker did not deliver the warm-up events; see /tmp/maracker-bench-*.log")

            for _ in range(options.rounds):
                receiver.reset()
                WebhookAttempt.objects.all().delete()
                WebhookDelivery.objects.all().delete()
                cpu_before = worker_cpu_seconds(worker_proc.pid)
                started = time.perf_counter()
                with transaction.atomic():
                    for _ in range(options.deliveries):
                        hooks.event_emit("job.succeeded", data)
                committed = time.perf_counter()
                complete = receiver.wait(options.deliveries, timeout=600)
                elapsed = time.perf_counter() - started
                while WebhookDelivery.objects.filter(status="pending").exists() and time.perf_counter() - started < 600:
                    time.sleep(0.01)  # the last rows are written just after the receiver answers
                cpu = worker_cpu_seconds(worker_proc.pid) - cpu_before
                lat = latencies_ms(receiver.arrivals)
                succeeded = WebhookDelivery.objects.filter(status="succeeded").count()
                receiver.reset()
                bare_seconds = bare_posts(hook_url, options.deliveries, body)
                bare_rate = options.deliveries / bare_seconds
                rate = options.deliveries / elapsed
                results["rounds"].append({
                    "deliveries": options.deliveries, "complete": complete, "succeeded_rows": succeeded,
                    "write_and_publish_s": round(committed - started, 2), "seconds": round(elapsed, 2),
                    "deliveries_per_second": round(rate, 1),
                    "worker_cpu_ms_per_delivery": round(cpu * 1000 / options.deliveries, 2),
                    "event_to_receipt_p50_ms": round(pct(lat, 50), 1),
                    "event_to_receipt_p99_ms": round(pct(lat, 99), 1),
                    "bare_posts_per_second": round(bare_rate, 1), "ratio": round(rate / bare_rate, 3),
                })

            # Idle latency: one event at a time.
            receiver.reset()
            for i in range(options.idle):
                with transaction.atomic():
                    hooks.event_emit("job.succeeded", data)
                receiver.wait(i + 1, timeout=30)
            idle = latencies_ms(receiver.arrivals)
            results["idle"] = {"events": len(idle), "p50_ms": round(pct(idle, 50), 1),
                               "p99_ms": round(pct(idle, 99), 1)}
            procs.stop(worker_proc)
            connection.close()
    finally:
        drop_database(DB_NAME)
        shutil.rmtree(redis_dir, ignore_errors=True)
        receiver.server.shutdown()

    print(json.dumps(results, indent=2))
    for index, r in enumerate(results["rounds"], 1):
        print(f"round {index}: {r['deliveries']} deliveries in {r['seconds']} s = {r['deliveries_per_second']}/s "
              f"(event to receipt p50 {r['event_to_receipt_p50_ms']} ms, p99 {r['event_to_receipt_p99_ms']} ms; "
              f"worker CPU {r['worker_cpu_ms_per_delivery']} ms/delivery); "
              f"bare posts {r['bare_posts_per_second']}/s -> ratio {r['ratio']}")
    rates = sorted(r["deliveries_per_second"] for r in results["rounds"])
    print(f"median deliveries/s: {rates[len(rates) // 2]}; idle event to receipt: p50 {results['idle']['p50_ms']} ms, "
          f"p99 {results['idle']['p99_ms']} ms")


if __name__ == "__main__":
    main()
