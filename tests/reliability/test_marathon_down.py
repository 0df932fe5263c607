"""Scenario 4: Marathon unavailable for a while (jobs retry, then succeed), and for good (jobs fail in time)."""
import time

import pytest

from shared.models import Job
from shared.services import jobs
from tests.fixtures.catalog import create_app
from tests.reliability.conftest import marathon_apps, rel_watcher, rel_worker, report, size, wait_terminal

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

JOBS = size(10, 30)
OUTAGE_SECONDS = size(10, 120)
# Retries wait between half and the whole step (base * 2^n): the default 8 attempts span at least 63.5 bases,
# 127 s with the default 2 s, so the full size rides out its two-minute outage with the default policy; the
# quick size scales the base down to span its 10 s outage (at least 12.7 s).
# (The test workers' fast-retry environment is overridden with the product's cap, and for the full size its base.)
OUTLAST_ENV = size({"JOB_RETRY_BASE_SECONDS": "0.2", "JOB_RETRY_CAP_SECONDS": "300"},
                   {"JOB_RETRY_BASE_SECONDS": "2", "JOB_RETRY_CAP_SECONDS": "300"})
# Down for good: the default 8 attempts, and a deadline that the back-off reaches before the attempts run out.
FOREVER_ENV = size(
    {"JOB_RETRY_BASE_SECONDS": "0.5", "JOB_RETRY_CAP_SECONDS": "4", "JOB_MAX_ATTEMPTS": "8",
     "JOB_DEADLINE_SECONDS": "10"},
    {"JOB_RETRY_BASE_SECONDS": "2", "JOB_RETRY_CAP_SECONDS": "30", "JOB_MAX_ATTEMPTS": "8",
     "JOB_DEADLINE_SECONDS": "120"},
)
DOWN = 1_000_000  # requests answered 503: "for good" at this scale


def test_marathon_down_for_a_while_jobs_retry_and_succeed(marathon_sim, private_redis, isolated_celery, tmp_path,
                                                          settings):
    sim = marathon_sim
    settings.JOB_MAX_ATTEMPTS = 8  # the default policy: job_create stores the attempts on the job
    watcher = rel_watcher(tmp_path, sim.url, private_redis.url)
    worker = rel_worker(tmp_path, sim.url, private_redis.url, beat=True, JOB_SWEEP_INTERVAL_SECONDS="1",
                        **OUTLAST_ENV)
    try:
        configs = [create_app()[1] for _ in range(JOBS)]
        sim.fail_next(DOWN, 503)
        down_at = time.monotonic()
        job_ids = [jobs.job_create(kind="deploy", config=config)[0].pk for config in configs]
        time.sleep(OUTAGE_SECONDS)
        ended = Job.objects.filter(pk__in=job_ids, status__in=["succeeded", "failed"])
        assert not ended.exists(), list(ended.values_list("status", "attempts", "last_error"))
        sim.clear_faults()
        up_at = time.monotonic()
        counts = wait_terminal(job_ids, timeout=size(60, 180))
        drained = time.monotonic() - up_at
        attempts = list(Job.objects.filter(pk__in=job_ids).values_list("attempts", flat=True))
        assert counts == {"succeeded": JOBS}, counts
        assert min(attempts) > 1
        apps = [a for a in marathon_apps(sim) if a.startswith("/maracker/")]
        assert len(apps) == JOBS
        report("marathon down then up", {"outage_s": round(up_at - down_at, 1), "jobs": JOBS,
                                         "succeeded": counts["succeeded"], "attempts_min": min(attempts),
                                         "attempts_max": max(attempts), "settled_s_after_return": round(drained, 1)})
    finally:
        worker.stop()
        watcher.stop()


def test_marathon_down_for_good_jobs_fail_unavailable_before_their_deadline(marathon_sim, private_redis,
                                                                            isolated_celery, tmp_path, settings):
    sim = marathon_sim
    sim.fail_next(DOWN, 503)
    settings.JOB_DEADLINE_SECONDS = int(FOREVER_ENV["JOB_DEADLINE_SECONDS"])  # the deadline job_create sets
    settings.JOB_MAX_ATTEMPTS = int(FOREVER_ENV["JOB_MAX_ATTEMPTS"])
    worker = rel_worker(tmp_path, sim.url, private_redis.url, beat=True, JOB_SWEEP_INTERVAL_SECONDS="1",
                        **FOREVER_ENV)
    try:
        configs = [create_app()[1] for _ in range(JOBS)]
        job_ids = [jobs.job_create(kind="deploy", config=config)[0].pk for config in configs]
        counts = wait_terminal(job_ids, timeout=settings.JOB_DEADLINE_SECONDS + 30)
        assert counts == {"failed": JOBS}, counts
        failed = list(Job.objects.filter(pk__in=job_ids))
        assert {job.last_error["code"] for job in failed} == {"marathon_unavailable"}
        assert all(job.finished_at < job.deadline for job in failed)
        gave_up_on_attempts = sum(job.attempts == job.max_attempts for job in failed)
        margins = [(job.deadline - job.finished_at).total_seconds() for job in failed]
        report("marathon down for good", {"jobs": JOBS, "failed_unavailable": len(failed),
                                          "out_of_attempts": gave_up_on_attempts,
                                          "stopped_by_deadline": JOBS - gave_up_on_attempts,
                                          "min_margin_before_deadline_s": round(min(margins), 1)})
    finally:
        worker.stop()
