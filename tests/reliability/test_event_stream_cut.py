"""Scenario 5: Marathon's event stream cut again and again during deployments; the watcher alone settles them."""
import random
import threading
import time

import pytest

from shared.models import Job
from shared.services import jobs
from tests.fixtures.catalog import create_app
from tests.reliability.conftest import TERMINAL, rel_watcher, rel_worker, report, size, wait_terminal

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

DEPLOYMENTS = size(20, 100)


def test_every_job_settles_while_the_event_stream_keeps_breaking(marathon_sim, private_redis, isolated_celery,
                                                                tmp_path):
    sim = marathon_sim
    sim.set_step_seconds(0.4)  # deployments last a second or two: streams break in the middle of them
    watcher = rel_watcher(tmp_path, sim.url, private_redis.url)
    # No beat (so no sweep) and no worker polling: only the watcher can settle a waiting job.
    worker = rel_worker(tmp_path, sim.url, private_redis.url, beat=False, concurrency=2)
    stop_cutting = threading.Event()
    drops = []
    rng = random.Random(5)

    def cut_streams():
        while not stop_cutting.wait(rng.uniform(0.2, 0.6)):
            drops.append(sim.drop_streams())

    cutter = threading.Thread(target=cut_streams, daemon=True)
    try:
        configs = [create_app()[1] for _ in range(DEPLOYMENTS)]
        cutter.start()
        started = time.monotonic()
        wanted = {}
        for index, config in enumerate(configs):
            instances = 1 + index % 3
            job, _ = jobs.job_create(kind="deploy", config=config, params={"instances": instances})
            wanted[job.pk] = instances
            time.sleep(rng.uniform(0, 0.1))
        counts = wait_terminal(list(wanted), timeout=size(90, 240))
        settled = time.monotonic() - started
        stop_cutting.set()
        cutter.join(5)
        assert counts == {"succeeded": DEPLOYMENTS}, counts
        # Settled correctly: what each job says is what Marathon runs.
        for job in Job.objects.filter(pk__in=list(wanted)):
            remote = sim.get(f"/v2/apps{job.marathon_app_id}").json()["app"]
            assert remote["instances"] == wanted[job.pk] and not remote["deployments"], job.pk
            assert job.result["instances"] == wanted[job.pk]
        assert Job.objects.exclude(status__in=TERMINAL).count() == 0
        resyncs = watcher.resyncs()
        assert sum(drops) >= 3 and resyncs >= 3, (drops, resyncs)
        report("event stream cut", {"deployments": DEPLOYMENTS, "succeeded": counts["succeeded"],
                                    "stream_drops": sum(drops), "watcher_resyncs": resyncs,
                                    "settled_s": round(settled, 1)})
    finally:
        stop_cutting.set()
        worker.stop()
        watcher.stop()
