"""Scenario 3: PostgreSQL connections cut during a burst against a real gunicorn: 503 problems, then recovery."""
import threading
import time
import uuid
from collections import Counter

import psycopg2
import pytest
import requests
from django.db import connection

from shared.models import IdempotencyKey, Job, JobEvent
from tests.fixtures.catalog import create_app
from tests.reliability.conftest import APP_NAME_PREFIX, api_headers, report, size, start_web

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

CLIENTS = 8
REQUESTS_PER_CLIENT = size(25, 150)
CHAOS_SECONDS = size(4, 20)
REFUSE_SECONDS = size(1.5, 5)  # connections refused outright, inside the chaos window


def cut_connections():
    """Terminate the web server's database connections (this process's own are left alone)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE %s",
            [f"{APP_NAME_PREFIX}-web%"],
        )
        return cursor.fetchone()[0]


def allow_connections(allowed):
    """Refuse (or allow again) every new connection to the test database: said from another database."""
    settings_dict = connection.settings_dict
    admin = psycopg2.connect(dbname="postgres", user=settings_dict["USER"] or "postgres",
                             password=settings_dict["PASSWORD"] or None, host=settings_dict["HOST"] or "127.0.0.1",
                             port=settings_dict["PORT"] or 5432)
    try:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{settings_dict["NAME"]}" ALLOW_CONNECTIONS {str(allowed).lower()}')
    finally:
        admin.close()


def test_cut_database_connections_give_503_problems_then_the_api_recovers(private_redis, tmp_path):
    configs = [create_app()[1] for _ in range(10)]
    headers = api_headers()
    web = start_web(tmp_path, private_redis.url, JOB_CREATE_RATE="100000/min", DB_CONNECT_TIMEOUT="2")
    statuses = Counter()
    bad = []  # answers that are neither a success nor a 503 database_unavailable problem
    accepted = {}  # idempotency key -> job id
    stop_chaos = threading.Event()
    chaos = Counter()
    deploys_asked = Counter()

    def client(index):
        session = requests.Session()
        session.headers.update(headers)
        n = -1
        while True:  # at least REQUESTS_PER_CLIENT requests, and on until the database is left alone
            n += 1
            if n >= REQUESTS_PER_CLIENT and stop_chaos.is_set():
                break
            if n % 3 != 2:
                deploys_asked[index] += 1
            key = uuid.uuid4().hex
            config = configs[(index + n) % len(configs)]
            while True:  # a client retries a 503 with the same Idempotency-Key, as the problem invites
                try:
                    if n % 3 == 2:
                        response = session.get(f"{web.url}/api/v1/jobs?page_size=5", timeout=30)
                    else:
                        response = session.post(f"{web.url}/api/v1/marathon-configs/{config.pk}/deploy", json={},
                                                headers={"Idempotency-Key": key}, timeout=30)
                except requests.RequestException as exc:
                    bad.append(("transport", repr(exc)))
                    break
                statuses[response.status_code] += 1
                if response.status_code == 503:
                    body = response.json()
                    if (response.headers.get("Content-Type") != "application/problem+json"
                            or body.get("code") != "database_unavailable" or "Retry-After" not in response.headers):
                        bad.append((503, response.headers.get("Content-Type"), response.text[:300]))
                    time.sleep(0.05)
                    continue
                if response.status_code == 202:
                    accepted[key] = response.json()["id"]
                elif response.status_code != 200:
                    bad.append((response.status_code, response.text[:300]))
                break

    def break_database():
        started = time.monotonic()
        refused = False
        try:
            while time.monotonic() - started < CHAOS_SECONDS:
                elapsed = time.monotonic() - started
                if not chaos["refusal_windows"] and elapsed > (CHAOS_SECONDS - REFUSE_SECONDS) / 2:
                    allow_connections(False)
                    refused = True
                    chaos["refusal_windows"] += 1
                if refused and elapsed > (CHAOS_SECONDS + REFUSE_SECONDS) / 2:
                    allow_connections(True)
                    refused = False
                chaos["terminated"] += cut_connections()
                chaos["cuts"] += 1
                time.sleep(0.1)
        finally:
            allow_connections(True)
            stop_chaos.set()

    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        breaker = threading.Thread(target=break_database)
        started = time.monotonic()
        breaker.start()
        for thread in threads:
            thread.start()
        breaker.join()
        for thread in threads:
            thread.join(timeout=300)
        burst_seconds = time.monotonic() - started

        # It recovers by itself: the very next requests succeed, no restart.
        recovered = requests.get(f"{web.url}/api/v1/jobs?page_size=1", headers=headers, timeout=10)
        assert recovered.status_code == 200, recovered.text
        assert not bad, bad[:10]
        assert 500 not in statuses and statuses[503] > 0, statuses

        # Nothing half-written: each accepted request is exactly one job, each job has its `created` entry,
        # and no job exists that no 202 answered.
        assert len(accepted) == sum(deploys_asked.values())
        job_ids = set(Job.objects.values_list("pk", flat=True))
        assert {uuid.UUID(str(i)) for i in accepted.values()} == job_ids
        created = Counter(JobEvent.objects.filter(type="created").values_list("job_id", flat=True))
        assert set(created) == job_ids and set(created.values()) == {1}
        assert IdempotencyKey.objects.count() == len(job_ids)
        report("database cut", {"requests": sum(statuses.values()), "by_status": dict(statuses),
                                "jobs": len(job_ids), "backends_terminated": chaos["terminated"],
                                "refusal_windows": chaos["refusal_windows"],
                                "burst_s": round(burst_seconds, 1)})
    finally:
        allow_connections(True)
        web.stop()
