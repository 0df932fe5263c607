"""The worker's operations wiring: database connections kept across tasks, closed when old or broken."""
import time

import pytest
from django.db import connection, connections, transaction

from shared.models import Job
from shared.services import jobs
from tests.fixtures.catalog import create_app
from tests.fixtures.celery_worker import start_worker
from tests.fixtures import processes
from worker.ops_tasks import _recycle_database_connections

APP_NAME = "maracker-test-reuse"


def backends(application_name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database() "
                       "AND application_name = %s", [application_name])
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_a_pool_process_keeps_its_database_connection_across_tasks(marathon_sim, private_redis, isolated_celery,
                                                                  tmp_path):
    worker = start_worker(str(tmp_path), marathon_sim.url, concurrency=1, queues="deploy",
                          REDIS_URL=private_redis.url,
                          DATABASE_URL=processes.test_env()["DATABASE_URL"] + f"?application_name={APP_NAME}")
    try:
        job_ids = [jobs.job_create(kind="deploy", config=create_app()[1])[0].pk for _ in range(5)]
        deadline = time.monotonic() + 60
        while Job.objects.filter(pk__in=job_ids).exclude(status="succeeded").exists():
            assert time.monotonic() < deadline, list(Job.objects.filter(pk__in=job_ids).values_list("status"))
            time.sleep(0.1)
        last_started = max(Job.objects.filter(pk__in=job_ids).values_list("started_at", flat=True))
        # Each job ran an execute task and settle tasks, one after the other; one connection served them all.
        # (Celery's own handling closed it after every task, leaving none once the last task ended.)
        found = backends(APP_NAME)
        assert len(found) == 1, found
        assert found[0][1] < last_started
    finally:
        worker.stop()


@pytest.mark.django_db(transaction=True)
def test_a_young_connection_is_kept_and_an_old_or_broken_one_closed():
    class Task:
        class request:
            is_eager = False

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    connection.close_at = time.monotonic() + 60
    _recycle_database_connections(task=Task)
    assert connection.connection is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] == pid

    connection.close_at = time.monotonic() - 1  # older than DB_CONN_MAX_AGE
    _recycle_database_connections(task=Task)
    assert connection.connection is None

    connection.ensure_connection()
    connection.errors_occurred = True  # an error was seen, but the connection still answers: kept
    _recycle_database_connections(task=Task)
    assert connection.connection is not None and not connection.errors_occurred

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    connection.errors_occurred = True  # as after the failed query a terminated backend causes
    _recycle_database_connections(task=Task)
    assert connection.connection is None  # broken: closed, the next task connects afresh
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


@pytest.mark.django_db(transaction=True)
def test_nothing_is_closed_inside_a_transaction_or_for_an_eager_task():
    class Eager:
        class request:
            is_eager = True

    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1
    _recycle_database_connections(task=Eager)
    assert connection.connection is not None
    with transaction.atomic():
        _recycle_database_connections(task=None)
        assert connection.connection is not None
