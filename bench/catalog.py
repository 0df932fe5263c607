"""Catalog benchmark: app creation and listing over gunicorn, beside a bare one-insert DRF endpoint.

Run: `.venv/bin/python bench/catalog.py` (needs PostgreSQL and Redis on 127.0.0.1). It creates and drops its own
database, seeds 10,000 apps in bulk, serves the API (bench.settings: the product plus /bench/bare-insert) with
gunicorn on a free loopback port, and loads it with 16 concurrent keep-alive clients. Prints JSON figures.
"""
import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    PYTHON,
    Processes,
    bench_env,
    drop_database,
    load,
    machine,
    recreate_database,
    run,
    api_token,
    cpu_by_role,
    cpu_per_request,
    start_gunicorn,
    summary,
)

DB_NAME = "maracker_bench_catalog"
REDIS_URL = "redis://127.0.0.1:6379/8"


def setup_django(database_url):
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=REDIS_URL, SECRET_KEY="bench",
                      DJANGO_SETTINGS_MODULE="bench.settings", LOG_LEVEL="warning")
    import django

    django.setup()


def seed_apps(count):
    """`count` apps, each with a container and one or two configurations, in three bulk inserts."""
    from decimal import Decimal

    from shared.models import App, DockerContainer, MarathonConfig

    apps = App.objects.bulk_create(
        [App(name=f"seed-{i:05d}", description=f"seeded app number {i}", vcs_url="https://example.com/r.git",
             labels={"tier": "web"}) for i in range(count)],
        batch_size=2000,
    )
    DockerContainer.objects.bulk_create(
        [DockerContainer(app=app, image=f"registry.example.com/team/app{i % 50}:1.{i % 7}", ports=[80, 8080])
         for i, app in enumerate(apps)], batch_size=2000,
    )
    MarathonConfig.objects.bulk_create(
        [MarathonConfig(app=app, cpu=Decimal("0.5"), memory=256, args=["--port", "80"], env_vars={"MODE": "x"})
         for i, app in enumerate(apps) for _ in range(1 + i % 2)], batch_size=2000,
    )


def create_body(i):
    return {
        "name": f"bench-{i}",
        "description": "simple nginx container",
        "vcs_url": "https://github.com/nginxinc/docker-nginx",
        "docker_container": {"type": "docker", "image": "nginx:1.27", "ports": [80]},
        "marathon_configs": [{"cpu": 1, "memory": 64}],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2000, help="requests per figure and round")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn gthread workers, as WEB_CONCURRENCY")
    options = parser.parse_args()

    database_url = recreate_database(DB_NAME)
    results = {"machine": machine(), "date": datetime.now().isoformat(timespec="seconds"),
               "apps": options.apps, "concurrency": options.concurrency, "web_workers": options.web_workers}
    try:
        with Processes() as procs:
            env = bench_env(database_url, REDIS_URL)
            run([PYTHON, "manage.py", "migrate", "-v", "0"], env)
            setup_django(database_url)
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("CREATE TABLE bench_bare (id bigserial primary key, payload text,"
                               " created_at timestamptz default now())")
            seed_apps(options.apps)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            web = start_gunicorn(procs, env, workers=options.web_workers)
            auth = api_token()

            pages = options.apps // 50
            list_url = lambda i: f"{web}/api/v1/apps/?page={1 + (i * 37) % pages}&page_size=50"  # noqa: E731
            bare_url = lambda i: f"{web}/bench/bare-insert"  # noqa: E731
            create_url = lambda i: f"{web}/api/v1/apps/"  # noqa: E731
            bare_body = lambda i: create_body(i)  # noqa: E731  (same bytes to parse as a create)

            # Warm up every path (imports, connections) before measuring.
            load("GET", list_url, lambda i: None, total=200, concurrency=options.concurrency, headers=auth)
            load("POST", bare_url, bare_body, total=200, concurrency=options.concurrency, headers=auth)
            load("POST", create_url, lambda i: create_body(f"warm-{i}"), total=200, concurrency=options.concurrency,
                 headers=auth)

            # The list right after a write, each of its pages asked once: every request renders its page afresh
            # (the listing cache is keyed by the catalog's version, which the warm-up's creates moved).
            results["list_uncached"] = summary("GET /api/v1/apps/ (page of 50, not cached)", *load(
                "GET", lambda i: f"{web}/api/v1/apps/?page={1 + i}&page_size=50", lambda i: None,
                total=pages, concurrency=options.concurrency))
            # Then the list as people browse it (the catalog is public: no token): pages asked again and again
            # while the catalog does not change.
            cpu_before = cpu_by_role(procs)
            results["list"] = summary("GET /api/v1/apps/ (page of 50)",
                                      *load("GET", list_url, lambda i: None, total=options.requests,
                                            concurrency=options.concurrency))
            results["list"]["cpu_ms_per_request"] = cpu_per_request(cpu_before, cpu_by_role(procs), options.requests)
            # Create beside the bare insert, interleaved in rounds so both share the machine's noise.
            rounds = []
            for round_no in range(options.rounds):
                cpu_before = cpu_by_role(procs)
                bare = summary("POST /bench/bare-insert", *load("POST", bare_url, bare_body, total=options.requests,
                                                                 concurrency=options.concurrency, headers=auth))
                cpu_between = cpu_by_role(procs)
                offset = round_no * options.requests
                create = summary("POST /api/v1/apps/", *load(
                    "POST", create_url, lambda i: create_body(offset + i), total=options.requests,
                    concurrency=options.concurrency, headers=auth))
                cpu_after = cpu_by_role(procs)
                bare["cpu_ms_per_request"] = cpu_per_request(cpu_before, cpu_between, options.requests)
                create["cpu_ms_per_request"] = cpu_per_request(cpu_between, cpu_after, options.requests)
                rounds.append({"bare": bare, "create": create,
                               "ratio": round(create["per_second"] / bare["per_second"], 3)})
            results["create"] = rounds
            results["create_ratio_median"] = sorted(r["ratio"] for r in rounds)[len(rounds) // 2]
            connection.close()
    finally:
        drop_database(DB_NAME)

    print(json.dumps(results, indent=2))
    ratio, p99 = results["create_ratio_median"], results["list"]["p99_ms"]
    print(f"create/bare throughput ratio (median of {options.rounds} rounds): {ratio:.2f} "
          f"(target >= 0.60: {'met' if ratio >= 0.6 else 'MISSED'})")
    for index, entry in enumerate(results["create"], 1):
        print(f"round {index}: create {entry['create']['per_second']}/s vs bare {entry['bare']['per_second']}/s "
              f"-> {entry['ratio']}; CPU per request (ms): create {entry['create']['cpu_ms_per_request']}, "
              f"bare {entry['bare']['cpu_ms_per_request']}")
    print(f"list p99: {p99} ms (target < 50 ms: {'met' if p99 < 50 else 'MISSED'}); CPU per request (ms): "
          f"{results['list']['cpu_ms_per_request']}")


if __name__ == "__main__":
    main()
