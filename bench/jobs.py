"""Deploy jobs: accept rate beside the bare insert, end-to-end jobs/s, and creation-to-Marathon latency.

Run: .venv/bin/python bench/jobs.py [--requests 2000] [--e2e-jobs 500] [--idle-jobs 50]
Creates and drops its own database (maracker_bench_jobs) and uses Redis database 9.
"""
import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    cpu_by_role,
    cpu_per_request,
    PYTHON,
    Processes,
    bench_env,
    drop_database,
    load,
    machine,
    pct,
    recreate_database,
    run,
    api_token,
    start_gunicorn,
    start_simulator,
    summary,
)

DB_NAME = "maracker_bench_jobs"
REDIS_URL = "redis://127.0.0.1:6379/9"


def setup_django(database_url, marathon_url):
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=REDIS_URL, SECRET_KEY="bench",
                      DJANGO_SETTINGS_MODULE="bench.settings", MARATHON_URL=marathon_url, LOG_LEVEL="warning")
    import django

    django.setup()


def seed_configs(count):
    from decimal import Decimal

    from shared.models import App, DockerContainer, MarathonConfig

    apps = App.objects.bulk_create([App(name=f"bench-{i}", description="bench") for i in range(count)])
    DockerContainer.objects.bulk_create([DockerContainer(app=a, image="nginx", ports=[80]) for a in apps])
    configs = MarathonConfig.objects.bulk_create(
        [MarathonConfig(app=a, cpu=Decimal("0.1"), memory=64, health_check_path="") for a in apps])
    return [c.pk for c in configs]


def reset_jobs():
    from shared.models import Deployment, IdempotencyKey, Job, JobEvent

    JobEvent.objects.all().delete()
    IdempotencyKey.objects.all().delete()
    Job.objects.all().delete()
    Deployment.objects.all().delete()


def wait_all_terminal(expected, timeout):
    from shared.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        active = Job.objects.filter(status__in=["queued", "running", "waiting"]).count()
        if Job.objects.count() >= expected and active == 0:
            return True
        time.sleep(0.05)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--configs", type=int, default=200)
    parser.add_argument("--e2e-jobs", type=int, default=500)
    parser.add_argument("--idle-jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-task-events", action="store_true",
                        help="run with CELERY_TASK_EVENTS=false (no Flower events) to see what they cost")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn gthread workers, as WEB_CONCURRENCY")
    options = parser.parse_args()

    import redis
    import requests

    redis.Redis.from_url(REDIS_URL).flushdb()
    database_url = recreate_database(DB_NAME)
    results = {"machine": machine(), "date": datetime.now().isoformat(timespec="seconds")}
    with Processes() as procs:
        sim = start_simulator(procs, step_seconds=0)
        # As in production: the watcher settles jobs from Marathon's events; workers do not poll.
        env = bench_env(database_url, REDIS_URL, MARATHON_URL=sim, JOB_WORKER_POLLING="false",
                        JOB_CREATE_RATE="1000000/min",  # the per-user limit is not what is measured
                        CELERY_TASK_EVENTS="false" if options.no_task_events else "true")
        run([PYTHON, "manage.py", "migrate", "-v", "0"], env)
        setup_django(database_url, sim)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_bare (id bigserial primary key, payload text,"
                           " created_at timestamptz default now())")
        total_configs = options.configs + options.e2e_jobs + options.idle_jobs
        config_ids = seed_configs(total_configs)
        web = start_gunicorn(procs, env, workers=options.web_workers)
        auth = api_token()

        # 1. Accept rate of POST .../deploy beside the bare insert, interleaved twice to share the noise.
        accept_ids = config_ids[: options.configs]
        body = {"instances": 1}
        deploy_url = lambda i: f"{web}/api/v1/marathon-configs/{accept_ids[i % len(accept_ids)]}/deploy"  # noqa: E731
        bare_url = lambda i: f"{web}/bench/bare-insert"  # noqa: E731
        # Warm both paths up (connections, imports, caches) before measuring.
        load("POST", bare_url, lambda i: body, total=200, concurrency=options.concurrency, headers=auth)
        load("POST", deploy_url, lambda i: body, total=200, concurrency=options.concurrency, headers=auth)
        reset_jobs()
        rounds = []
        for round_no in range(options.rounds):
            cpu_before = cpu_by_role(procs)
            bare = summary("bare insert", *load("POST", bare_url, lambda i: body, total=options.requests,
                                                concurrency=options.concurrency, headers=auth))
            cpu_between = cpu_by_role(procs)
            accept = summary("POST deploy", *load("POST", deploy_url, lambda i: body, total=options.requests,
                                                  concurrency=options.concurrency, headers=auth))
            cpu_after = cpu_by_role(procs)
            bare["cpu_ms_per_request"] = cpu_per_request(cpu_before, cpu_between, options.requests)
            accept["cpu_ms_per_request"] = cpu_per_request(cpu_between, cpu_after, options.requests)
            rounds.append({"bare": bare, "deploy": accept,
                           "ratio": round(accept["per_second"] / bare["per_second"], 3)})
            reset_jobs()
        results["accept"] = rounds
        results["accept_ratio_median"] = sorted(r["ratio"] for r in rounds)[len(rounds) // 2]

        # 2. End to end with two worker processes at step time 0, and the watcher.
        watcher = procs.start([PYTHON, "manage.py", "watch_marathon"], env, "watcher")
        worker = procs.start([PYTHON, "-m", "celery", "-A", "worker.celery", "worker", "-Q", "deploy,maintenance",
                              "-c", "2", "-n", "bench@%h", "--without-gossip", "--without-mingle", "-l", "warning"],
                             env, "worker")
        time.sleep(3)
        e2e_ids = config_ids[options.configs: options.configs + options.e2e_jobs] or config_ids[: options.e2e_jobs]
        cpu_before = cpu_by_role(procs)
        started = time.perf_counter()
        seconds, latencies, codes = load("POST", lambda i: f"{web}/api/v1/marathon-configs/{e2e_ids[i]}/deploy",
                                         lambda i: {}, total=len(e2e_ids), concurrency=options.concurrency, headers=auth)
        done = wait_all_terminal(len(e2e_ids), timeout=600)
        elapsed = time.perf_counter() - started
        cpu_after = cpu_by_role(procs)
        from shared.models import Job

        statuses = dict((s, Job.objects.filter(status=s).count()) for s in ("succeeded", "failed", "cancelled"))
        results["end_to_end"] = {"jobs": len(e2e_ids), "seconds": round(elapsed, 2),
                                 "jobs_per_second": round(len(e2e_ids) / elapsed, 1), "all_terminal": done,
                                 "statuses": statuses, "http_codes": codes,
                                 "cpu_ms_per_job": {role: round((cpu_after[role] - cpu_before.get(role, 0)) * 1000
                                                                / len(e2e_ids), 1) for role in cpu_after}}
        reset_jobs()

        # 3. Creation-to-Marathon latency when idle: one job at a time.
        requests.delete(f"{sim}/_sim/requests")
        idle_ids = config_ids[-options.idle_jobs:]
        created = {}
        session = requests.Session()
        session.headers.update(auth)
        for config_id in idle_ids:
            job = session.post(f"{web}/api/v1/marathon-configs/{config_id}/deploy", json={}).json()
            created[job["marathon_app_id"]] = datetime.fromisoformat(job["created_at"].replace("Z", "+00:00"))
            wait_all_terminal(len(created), timeout=30)
        log = requests.get(f"{sim}/_sim/requests", params={"limit": 100000}).json()["log"]
        reached = {}
        for entry in log:
            if entry["method"] == "PUT" and entry["path"].startswith("/v2/apps/"):
                app_id = entry["path"][len("/v2/apps"):]
                reached.setdefault(app_id, datetime.fromisoformat(entry["at"].replace("Z", "+00:00")))
        latencies = [(reached[a] - created[a]).total_seconds() for a in created if a in reached]
        results["creation_to_marathon"] = {
            "jobs": len(latencies), "p50_ms": round(pct(latencies, 50) * 1000, 1),
            "p99_ms": round(pct(latencies, 99) * 1000, 1), "max_ms": round(max(latencies) * 1000, 1),
        }
        procs.stop(worker)
        procs.stop(watcher)
    connection.close()
    drop_database(DB_NAME)
    print(json.dumps(results, indent=2))
    for index, entry in enumerate(results["accept"], 1):
        print(f"round {index}: deploy accept {entry['deploy']['per_second']}/s (p50 {entry['deploy']['p50_ms']} ms, "
              f"p99 {entry['deploy']['p99_ms']} ms) vs bare insert {entry['bare']['per_second']}/s "
              f"-> ratio {entry['ratio']}")
        print(f"  CPU per request (ms): deploy {entry['deploy']['cpu_ms_per_request']}, "
              f"bare {entry['bare']['cpu_ms_per_request']}")
    print(f"accept rate / bare insert, median of {len(results['accept'])} rounds: {results['accept_ratio_median']}")
    e2e = results["end_to_end"]
    print(f"end to end: {e2e['jobs']} jobs in {e2e['seconds']} s = {e2e['jobs_per_second']} jobs/s ({e2e['statuses']})")
    print(f"  CPU per job (ms): {e2e['cpu_ms_per_job']}")
    c2m = results["creation_to_marathon"]
    print(f"creation to Marathon (idle): p50 {c2m['p50_ms']} ms, p99 {c2m['p99_ms']} ms over {c2m['jobs']} jobs")


if __name__ == "__main__":
    main()
