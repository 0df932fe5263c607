"""Scenario 2: Redis restarted and flushed with jobs queued; the sweeper re-enqueues them from the database."""
import time

import pytest

from shared.models import Job
from shared.services import jobs
from tests.fixtures.catalog import create_app
from tests.reliability.conftest import (
    marathon_apps,
    rel_watcher,
    rel_worker,
    report,
    size,
    wait_terminal,
)

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

JOBS = 200  # the figure; cheap enough for the quick run too
CONFIGS = size(100, 100)


def test_jobs_queued_before_a_redis_flush_and_restart_all_finish(marathon_sim, private_redis, isolated_celery,
                                                                 tmp_path):
    sim = marathon_sim
    configs = [create_app()[1] for _ in range(CONFIGS)]
    # No worker runs: every job stays queued, its message in Redis only.
    job_ids = [jobs.job_create(kind="deploy", config=configs[i % CONFIGS])[0].pk for i in range(JOBS)]
    assert Job.objects.filter(pk__in=job_ids, status="queued").count() == JOBS
    messages_before = private_redis.client().llen("deploy")
    private_redis.restart(flush=True)
    assert private_redis.client().llen("deploy") == 0 and private_redis.client().dbsize() == 0

    watcher = rel_watcher(tmp_path, sim.url, private_redis.url)
    started = time.monotonic()
    worker = rel_worker(tmp_path, sim.url, private_redis.url, beat=True, concurrency=4,
                        JOB_REQUEUE_AFTER_SECONDS="3", JOB_SWEEP_INTERVAL_SECONDS="1")
    try:
        counts = wait_terminal(job_ids, timeout=size(120, 300))
        drained = time.monotonic() - started
        assert counts == {"succeeded": JOBS}, counts
        requeued = worker.log().count("requeued")
        apps = [a for a in marathon_apps(sim) if a.startswith("/maracker/")]
        assert sorted(apps) == sorted({Job.objects.get(pk=pk).marathon_app_id for pk in job_ids})
        report("redis flushed", {"jobs": JOBS, "messages_flushed": messages_before, "succeeded": counts["succeeded"],
                                 "drain_s_after_worker_start": round(drained, 1), "sweep_log_lines": requeued,
                                 "marathon_apps": len(apps)})
    finally:
        worker.stop()
        watcher.stop()
