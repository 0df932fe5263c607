"""The Metronome client against metronome_sim over loopback: every call, every error type, failover, timeouts."""
import pytest

from shared.scheduler.client import MetronomeClient
from shared.scheduler.errors import SchedulerNotFound, SchedulerRejected, SchedulerUnavailable
from tests.fixtures.processes import free_port



def spec(job_id="maracker.hello.c1.r1", image="busybox:1.36", **run):
    return {"id": job_id, "run": {"cpus": 0.1, "mem": 32, "disk": 0, "docker": {"image": image},
                                  "cmd": "echo hi", **run}}


@pytest.fixture
def client(metronome_sim):
    metronome_sim.set_run_seconds(0.3)
    client = MetronomeClient(metronome_sim.url, connect_timeout=1, read_timeout=1)
    yield client
    client.close()


def wait_finished(client, job_id, run_id):
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        run = client.get_run(job_id, run_id)
        if run.finished:
            return run
        time.sleep(0.05)
    raise AssertionError("the run did not finish")


def test_put_job_creates_then_replaces(client):
    assert client.put_job(spec())["id"] == "maracker.hello.c1.r1"
    assert client.put_job(spec(cmd="echo again"))["run"]["cmd"] == "echo again"
    assert client.get_job("maracker.hello.c1.r1")["run"]["cmd"] == "echo again"


def test_a_run_is_followed_from_start_to_success_then_found_in_history(client):
    client.put_job(spec())
    started = client.start_run("maracker.hello.c1.r1")
    assert started.status in ("INITIAL", "STARTING")
    assert [run.id for run in client.list_runs("maracker.hello.c1.r1")] == [started.id]
    run = wait_finished(client, "maracker.hello.c1.r1", started.id)
    assert run.status == "SUCCESS" and run.succeeded
    assert run.finished_at is not None and run.created_at is not None
    assert len(run.tasks) == 1


def test_a_failing_image_ends_failed(client):
    client.put_job(spec(image="example/fail"))
    run = wait_finished(client, "maracker.hello.c1.r1", client.start_run("maracker.hello.c1.r1").id)
    assert run.status == "FAILED" and run.failure_reason


def test_stop_run_fails_it_with_a_killed_task(client, metronome_sim):
    metronome_sim.set_run_seconds(30)
    client.put_job(spec())
    run = client.start_run("maracker.hello.c1.r1")
    client.stop_run("maracker.hello.c1.r1", run.id)
    assert client.get_run("maracker.hello.c1.r1", run.id).status == "FAILED"


def test_errors_are_typed(client, metronome_sim):
    with pytest.raises(SchedulerNotFound):
        client.get_job("maracker.nothing")
    with pytest.raises(SchedulerNotFound):
        client.start_run("maracker.nothing")
    with pytest.raises(SchedulerRejected) as rejected:
        client.put_job(spec(mem=8))
    assert rejected.value.details[0]["path"] == "/run/mem" and not rejected.value.retryable
    metronome_sim.fail_next(1, status=503)
    with pytest.raises(SchedulerUnavailable) as unavailable:
        client.get_job("maracker.nothing")
    assert unavailable.value.retryable and unavailable.value.status == 503


def test_timeouts_and_refused_connections_are_unavailable(client, metronome_sim):
    metronome_sim.hang_next(1, 3)
    with pytest.raises(SchedulerUnavailable):
        client.ping()
    with pytest.raises(SchedulerUnavailable):
        MetronomeClient(f"http://127.0.0.1:{free_port()}", connect_timeout=0.5, read_timeout=0.5).ping()


def test_fails_over_to_the_next_url(metronome_sim):
    client = MetronomeClient([f"http://127.0.0.1:{free_port()}", metronome_sim.url], connect_timeout=0.5)
    assert client.ping()
    metronome_sim.fail_next(1, status=502)
    with pytest.raises(SchedulerUnavailable):
        client.ping()  # the only live URL answered 502, the other refuses
