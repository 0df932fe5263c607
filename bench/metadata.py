"""Benchmark: image metadata lookups per second against a local docker-registry, cold versus cached, in one run."""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.registry.cache import InMemoryCache  # noqa: E402
from shared.registry.client import RegistryClient  # noqa: E402
from shared.registry.reference import parse_reference  # noqa: E402
from tests.fixtures.registry import start_registry, stop_registry, write_image_layout, write_index_layout  # noqa: E402

LABELS = {
    "org.opencontainers.image.title": "Bench App",
    "org.opencontainers.image.description": "an image for the metadata benchmark",
    "org.label-schema.memory-hint": "256m",
    **{f"com.example.label-{i:03d}": "value " * 8 for i in range(50)},
}


def measure(client, reference, count, cache_factory):
    """Run `count` lookups; returns (lookups per second, HTTP requests per lookup)."""
    client.request_log.clear()
    started = time.perf_counter()
    for _ in range(count):
        client.lookup(reference, cache_factory())
    elapsed = time.perf_counter() - started
    return count / elapsed, len(client.request_log) / count


def start_private_redis(tmp):
    """A Redis server of the benchmark's own on a free port (broker and cache of the worker it starts)."""
    import redis

    from tests.fixtures.processes import free_port

    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(200):
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def measure_jobs(tmp, reference, count, concurrency):
    """End to end: `count` image_lookup jobs recorded at once, carried out by a real Celery worker on the
    metadata queue (Django cache warm after the first); returns jobs per second, creation to last success."""
    import psycopg2

    from tests.fixtures.processes import PYTHON, start, stop

    db_name = "maracker_bench_metadata"
    admin = psycopg2.connect(os.environ.get("BENCH_ADMIN_DSN", "dbname=postgres user=postgres host=127.0.0.1"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{db_name}"')
    redis_process, redis_url = start_private_redis(tmp)
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db_name}", "REDIS_URL": redis_url,
           "SECRET_KEY": "bench-only", "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "info"}
    os.environ.update({key: env[key] for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY",
                                                 "DJANGO_SETTINGS_MODULE", "LOG_LEVEL")})
    worker = None
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from django.db import transaction

        from shared.models import Job
        from shared.services.image_metadata import image_lookup_create

        log_path = tmp / "worker.log"
        worker = start([PYTHON, "-m", "celery", "-A", "worker.celery", "worker", "-Q", "metadata", "-c",
                        str(concurrency), "--without-gossip", "--without-mingle", "-l", "info"],
                       env=env, log_path=str(log_path))
        deadline = time.monotonic() + 60
        while " ready." not in (log_path.read_text(errors="replace") if log_path.exists() else ""):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the worker did not start")
            time.sleep(0.1)
        image_lookup_create(image=reference)  # warms the worker's connections and the Django cache
        while Job.objects.exclude(status="succeeded").exists():
            time.sleep(0.05)
        started = time.perf_counter()
        with transaction.atomic():
            for _ in range(count):
                image_lookup_create(image=reference)
        while Job.objects.filter(status__in=["queued", "running"]).exists():
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        failed = Job.objects.exclude(status="succeeded").count()
        if failed:
            raise RuntimeError(f"{failed} lookup jobs did not succeed")
        return count / elapsed
    finally:
        stop(worker)
        stop(redis_process)
        from django.db import connections

        connections.close_all()
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300, help="lookups per measurement")
    parser.add_argument("--jobs", type=int, default=300, help="image_lookup jobs end to end (0: skip)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes for the jobs figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-metadata-") as tmp:
        tmp = Path(tmp)
        server = start_registry(tmp / "registry")
        try:
            server.push(write_image_layout(tmp / "single", "1", labels=LABELS, exposed_ports=["8080/tcp"]),
                        "bench/single", "1")
            server.push(write_index_layout(tmp / "multi", "1", [dict(labels=LABELS),
                                                                dict(labels=LABELS, architecture="arm64")]),
                        "bench/multi", "1", all_platforms=True)
            client = RegistryClient()
            print(f"machine: nproc={os.cpu_count()} python={platform.python_version()} "
                  f"{platform.system()} {platform.machine()}; {args.count} lookups per figure")
            for name in ("single", "multi"):
                reference = f"{server.host}/bench/{name}:1"
                client.lookup(reference)  # warm the connection pool
                cold_rate, cold_requests = measure(client, reference, args.count, lambda: None)
                warm = InMemoryCache()
                client.lookup(reference, warm)
                cached_rate, cached_requests = measure(client, reference, args.count, lambda: warm)
                print(f"{name:6s} cold:   {cold_rate:8.1f} lookups/s, {cold_requests:.1f} requests/lookup")
                print(f"{name:6s} cached: {cached_rate:8.1f} lookups/s, {cached_requests:.1f} requests/lookup")
                print(f"{name:6s} ratio cached/cold: {cached_rate / cold_rate:.2f}x")
                pinned = f"{server.host}/bench/{name}@" + client.lookup(reference).digest
                pinned_rate, pinned_requests = measure(client, pinned, args.count, lambda: warm)
                print(f"{name:6s} cached, pinned by digest: {pinned_rate:8.1f} lookups/s, "
                      f"{pinned_requests:.1f} requests/lookup")
            if args.jobs:
                reference = f"{server.host}/bench/single:1"
                rate = measure_jobs(tmp, reference, args.jobs, args.concurrency)
                warm = InMemoryCache()
                client.lookup(reference, warm)
                cached_rate, _ = measure(client, reference, args.count, lambda: warm)
                print(f"image_lookup jobs end to end ({args.concurrency} worker processes): {rate:8.1f} jobs/s; "
                      f"in-process cached lookups: {cached_rate:8.1f}/s; jobs/lookups {rate / cached_rate:.2f}x")
            count = 20_000
            started = time.perf_counter()
            for i in range(count):
                parse_reference(f"registry.example.com:5000/team/app-{i % 100}:1.{i % 7}")
            print(f"parse_reference: {count / (time.perf_counter() - started):,.0f} references/s")
        finally:
            stop_registry(server)


if __name__ == "__main__":
    main()
