"""Scenario 1: a worker killed with SIGKILL inside a deploy's Marathon request; another worker finishes the job."""
import signal
import time

import pytest

from shared.models import Job
from shared.services import jobs
from tests.reliability.conftest import (
    TERMINAL,
    marathon_apps,
    rel_watcher,
    rel_worker,
    report,
    sim_received_method,
    size,
    wait_terminal,
)

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

STALE_SECONDS = 10  # JOB_STALE_RUNNING_SECONDS' minimum
RECOVERY_ENV = {
    "JOB_STALE_RUNNING_SECONDS": str(STALE_SECONDS),
    "JOB_REQUEUE_AFTER_SECONDS": "2",
    "JOB_SWEEP_INTERVAL_SECONDS": "0.5",
    # Long enough that the killed worker is still inside the hung PUT when it dies.
    "MARATHON_READ_TIMEOUT": "60",
}


def wait_for(predicate, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{message} not reached within {timeout}s")


@pytest.mark.parametrize("round_", range(size(1, 3)))
def test_a_worker_killed_mid_deploy_leaves_the_job_to_another_worker(
    round_, marathon_sim, make_app, private_redis, isolated_celery, tmp_path
):
    sim = marathon_sim
    watcher = rel_watcher(tmp_path, sim.url, private_redis.url)
    doomed = rel_worker(tmp_path, sim.url, private_redis.url, concurrency=1, **RECOVERY_ENV)
    survivor = None
    try:
        _, config = make_app()
        # The deploy's PUT hangs far longer than the scenario: the doomed worker is inside the attempt.
        sim.hang_next(1, 30, path_prefix="/v2/apps")
        job, _ = jobs.job_create(kind="deploy", config=config)
        wait_for(lambda: Job.objects.get(pk=job.pk).status == "running", 30, "the job running")
        wait_for(lambda: sim_received_method(sim, "PUT") >= 1, 30, "the PUT reaching Marathon")
        killed_at = time.monotonic()
        doomed.stop(sig=signal.SIGKILL)
        assert Job.objects.get(pk=job.pk).status == "running"

        survivor = rel_worker(tmp_path, sim.url, private_redis.url, beat=True, **RECOVERY_ENV)
        counts = wait_terminal([job.pk], timeout=STALE_SECONDS + 60)
        recovered_after = time.monotonic() - killed_at
        job.refresh_from_db()
        timeline = [(e.type, e.from_status, e.to_status, e.message) for e in job.events.order_by("at", "id")]
        assert counts == {"succeeded": 1}, timeline
        assert job.attempts == 2, timeline
        assert any("stopped answering" in (message or "") for *_, message in timeline), timeline
        # The hung PUT ends on its own later and replaces the app with the same definition: still one app.
        time.sleep(1)
        sim.wait_deployed(job.marathon_app_id, timeout=40)
        apps = [app_id for app_id in marathon_apps(sim) if app_id.endswith(f"/{config.pk}")]
        assert apps == [job.marathon_app_id]
        assert Job.objects.exclude(status__in=TERMINAL).count() == 0
        report("worker killed", {"round": round_, "recovered_s": round(recovered_after, 1),
                                 "attempts": job.attempts, "marathon_apps": len(apps),
                                 "puts": sim_received_method(sim, "PUT")})
    finally:
        if survivor is not None:
            survivor.stop()
        doomed.stop()
        watcher.stop()
