"""Scenario 6: a burst of deploy requests from many clients over many configurations; nothing lost or doubled."""
import threading
import time
from collections import Counter

import pytest
import requests

from shared.models import Job
from tests.fixtures.catalog import create_app
from tests.reliability.conftest import (
    api_headers,
    marathon_apps,
    rel_watcher,
    rel_worker,
    report,
    size,
    start_web,
    wait_terminal,
    write_artifact,
)

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

REQUESTS = size(200, 1000)
CONFIGS = size(20, 100)
CLIENTS = 16


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else None


def test_a_burst_of_deploys_ends_with_every_job_terminal_and_one_app_per_configuration(
    marathon_sim, private_redis, isolated_celery, tmp_path
):
    sim = marathon_sim
    configs = [create_app()[1] for _ in range(CONFIGS)]
    headers = [api_headers() for _ in range(CLIENTS)]  # one user and token per client
    web = start_web(tmp_path, private_redis.url, JOB_CREATE_RATE="100000/min")
    watcher = rel_watcher(tmp_path, sim.url, private_redis.url)
    workers = [rel_worker(tmp_path, sim.url, private_redis.url, beat=(i == 0), concurrency=2) for i in range(2)]
    statuses = Counter()
    accepted = []
    latencies = []
    errors = []
    lock = threading.Lock()

    def client(index):
        session = requests.Session()
        session.headers.update(headers[index])
        for n in range(index, REQUESTS, CLIENTS):
            config = configs[n % CONFIGS]
            sent = time.monotonic()
            try:
                response = session.post(f"{web.url}/api/v1/marathon-configs/{config.pk}/deploy", json={},
                                        timeout=60)
            except requests.RequestException as exc:
                with lock:
                    errors.append(repr(exc))
                continue
            with lock:
                latencies.append(time.monotonic() - sent)
                statuses[response.status_code] += 1
                if response.status_code == 202:
                    accepted.append(response.json()["id"])
                else:
                    errors.append((response.status_code, response.text[:200]))

    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        accept_seconds = time.monotonic() - started
        counts = wait_terminal(accepted, timeout=size(180, 600))
        drain_seconds = time.monotonic() - started

        assert not errors, errors[:10]
        assert statuses == {202: REQUESTS}
        assert len(set(accepted)) == REQUESTS
        assert Job.objects.count() == REQUESTS  # zero lost, zero extra
        assert counts == {"succeeded": REQUESTS}, counts
        apps = Counter(a for a in marathon_apps(sim) if a.startswith("/maracker/"))
        assert len(apps) == CONFIGS and set(apps.values()) == {1}
        assert set(apps) == set(Job.objects.values_list("marathon_app_id", flat=True))
        figures = {
            "requests": REQUESTS, "configurations": CONFIGS, "clients": CLIENTS,
            "accepted": statuses[202], "succeeded": counts["succeeded"], "lost": REQUESTS - len(set(accepted)),
            "marathon_apps": len(apps), "duplicate_marathon_apps": sum(n - 1 for n in apps.values()),
            "accept_seconds": round(accept_seconds, 2),
            "accept_rate_per_s": round(REQUESTS / accept_seconds, 1),
            "accept_latency_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "accept_latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "time_to_drain_s": round(drain_seconds, 2),
            "jobs_per_s_end_to_end": round(REQUESTS / drain_seconds, 1),
            "web": "gunicorn 2 processes x 8 threads", "workers": "2 x concurrency 2", "sim_step_s": 0.1,
        }
        write_artifact("reliability-burst.json", figures)
        report("burst", figures)
    finally:
        for worker in workers:
            worker.stop()
        watcher.stop()
        web.stop()
