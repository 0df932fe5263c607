"""Job services in-process: guarded transitions, claims without races, idempotent runs, adoption, the sweeper."""
import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from shared.errors import IllegalTransition
from shared.models import Job, JobKind, JobStatus
from shared.services import job_runner
from shared.services import jobs as job_services
from shared.services.sweeper import job_sweep



def new_job(config, **fields):
    values = dict(kind=JobKind.DEPLOY, config=config, app=config.app, app_name=config.app.name,
                  config_ref=config.pk, marathon_app_id=job_services.config_marathon_app_id(config),
                  deadline=timezone.now() + timedelta(minutes=10))
    values.update(fields)
    return Job.objects.create(**values)


@pytest.fixture
def in_process_marathon(marathon_sim, settings):
    settings.MARATHON_URLS = [marathon_sim.url]
    settings.MARATHON_READ_TIMEOUT = 2
    job_runner._client = None
    yield marathon_sim
    job_runner._client = None


@pytest.mark.django_db
@pytest.mark.parametrize("source,target", [
    ("succeeded", "running"), ("failed", "queued"), ("cancelled", "succeeded"), ("queued", "waiting"),
    ("queued", "succeeded"), ("waiting", "running"),
])
def test_illegal_transitions_are_refused(make_app, source, target):
    _, config = make_app()
    job = new_job(config, status=source)
    with pytest.raises(IllegalTransition):
        job_services.job_transition(job, source, target)
    job.refresh_from_db()
    assert job.status == source
    assert not job.events.filter(type="transition").exists()


@pytest.mark.django_db
def test_a_transition_from_a_stale_status_is_refused(make_app):
    _, config = make_app()
    job = new_job(config)
    stale = Job.objects.get(pk=job.pk)
    job_services.job_transition(job, JobStatus.QUEUED, JobStatus.CANCELLED)
    with pytest.raises(IllegalTransition):
        job_services.job_transition(stale, JobStatus.QUEUED, JobStatus.RUNNING)
    assert Job.objects.get(pk=job.pk).status == "cancelled"


@pytest.mark.django_db
def test_terminal_transitions_set_finished_at(make_app):
    _, config = make_app()
    job = new_job(config)
    job = job_services.job_transition(job, JobStatus.QUEUED, JobStatus.FAILED, last_error={"code": "x"})
    assert job.finished_at is not None and job.is_terminal


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_one_job_only_one_wins(make_app):
    _, config = make_app()
    job = new_job(config)
    barrier = threading.Barrier(8)
    results = []

    def claim():
        try:
            barrier.wait()
            results.append(job_services.job_claim(job.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([r for r in results if r is not None]) == 1
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 1
    assert job.events.filter(type="transition", to_status="running").count() == 1


@pytest.mark.django_db
def test_the_database_refuses_two_active_jobs_on_one_marathon_app(make_app):
    _, config = make_app()
    new_job(config, status=JobStatus.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        new_job(config, status=JobStatus.WAITING)


@pytest.mark.django_db
def test_a_later_job_is_not_claimed_while_an_earlier_one_is_active(make_app):
    _, config = make_app()
    first = new_job(config)
    second = new_job(config)
    assert job_services.job_claim(second.pk) is None
    second.refresh_from_db()
    assert second.blocked_by_id == first.pk and second.status == "queued"
    assert job_services.job_claim(first.pk) is not None


@pytest.mark.django_db(transaction=True)
def test_job_create_records_what_the_job_waits_for_in_its_rows(make_app, isolated_celery):
    """Outside any transaction a job request is one statement: the blocker read and the three rows. (Its task goes
    to a private broker: no worker may claim the first job meanwhile.)"""
    _, config = make_app()
    _, other = make_app(name="other")
    assert not connection.in_atomic_block
    first, created = job_services.job_create(kind=JobKind.DEPLOY, config=config)
    second, _ = job_services.job_create(kind=JobKind.SCALE, config=config, params={"instances": 3})
    elsewhere, _ = job_services.job_create(kind=JobKind.DEPLOY, config=other)
    assert created and first.blocked_by_id is None and elsewhere.blocked_by_id is None
    assert second.blocked_by_id == first.pk
    stored = {job.pk: job for job in Job.objects.all()}
    assert stored[second.pk].blocked_by_id == first.pk and stored[first.pk].blocked_by_id is None
    entry = stored[second.pk].events.get(type="created")
    assert entry.message == f"queued behind job {first.pk} (deploy, queued) on {first.marathon_app_id}"
    assert entry.data == {"params": {"instances": 3}, "blocked_by": str(first.pk)}
    assert stored[first.pk].events.get(type="created").data == {"params": {}, "blocked_by": None}
    assert stored[first.pk].events.get(type="created").message == "queued"
    # A job that ended blocks nothing.
    Job.objects.filter(pk__in=[first.pk, second.pk]).update(status=JobStatus.SUCCEEDED)
    third, _ = job_services.job_create(kind=JobKind.STOP, config=config)
    assert third.blocked_by_id is None and Job.objects.get(pk=third.pk).blocked_by_id is None


@pytest.mark.django_db
def test_retry_delay_is_jittered_between_half_and_the_whole_step_under_the_cap(settings):
    settings.JOB_RETRY_BASE_SECONDS = 2
    settings.JOB_RETRY_CAP_SECONDS = 300
    for attempt in range(1, 12):
        step = min(300, 2 * 2 ** (attempt - 1))
        delays = [job_services.retry_delay(attempt) for _ in range(200)]
        assert all(step / 2 <= delay <= step for delay in delays)
        assert len(set(delays)) > 1
    # The default 8 attempts (7 waits) always span at least 127 s: a two-minute outage is ridden out.
    assert sum(min(300, 2 * 2 ** (a - 1)) / 2 for a in range(1, 8)) == 127


@pytest.mark.django_db
def test_executing_a_job_twice_does_no_harm(make_app, in_process_marathon):
    _, config = make_app()
    job = new_job(config)
    first = job_runner.job_execute(job.pk)
    assert first.status == "waiting"
    assert job_runner.job_execute(job.pk) is None
    assert in_process_marathon.request_count(f"/v2/apps{job.marathon_app_id}", method="PUT") == 1


@pytest.mark.django_db
def test_a_rerun_after_a_crash_adopts_marathons_deployment_instead_of_deploying_again(make_app, in_process_marathon):
    _, config = make_app(image="example/fail-forever")
    job = new_job(config)
    # Attempt 1 sent the request and died before recording Marathon's answer.
    claimed = job_services.job_claim(job.pk)
    job_services.job_event(claimed, "marathon_request", "PUT")
    client = job_runner.marathon_client()
    definition = job_runner.build_app_definition(job_runner.app_spec(config))
    accepted = client.create_or_replace_app(definition)
    job_services.job_transition(claimed, JobStatus.RUNNING, JobStatus.QUEUED, message="worker lost")
    job = job_runner.job_execute(job.pk)
    assert job.status == "waiting" and job.deployment_id == accepted.deployment_id
    assert job.events.filter(type="adopted").exists()
    assert len(client.list_deployments()) == 1


@pytest.mark.django_db
def test_a_deleted_configuration_fails_the_job_permanently(make_app, in_process_marathon):
    _, config = make_app()
    job = new_job(config)
    config.delete()
    job = job_runner.job_execute(job.pk)
    assert job.status == "failed" and job.last_error["code"] == "config_deleted"


@pytest.mark.django_db
def test_an_app_without_image_or_command_is_not_deployable(make_app, in_process_marathon):
    _, config = make_app(image="", command="")
    job = job_runner.job_execute(new_job(config).pk)
    assert job.status == "failed" and job.last_error["code"] == "not_deployable"


@pytest.mark.django_db
def test_sweeper_requeues_lost_messages_recovers_dead_workers_and_expires(make_app, monkeypatch, settings):
    sent = []
    monkeypatch.setattr("shared.services.sweeper.send_now", lambda name, *args, **kw: sent.append((name, args)) or True)
    now = timezone.now()
    old = now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS + 5)
    _, c1 = make_app()
    _, c2 = make_app()
    _, c3 = make_app()
    _, c4 = make_app()
    lost = new_job(c1)
    dead = new_job(c2, status=JobStatus.RUNNING)
    expired = new_job(c3, deadline=now - timedelta(seconds=1))
    waiting = new_job(c4, status=JobStatus.WAITING, deadline=now - timedelta(seconds=1))
    Job.objects.filter(pk__in=[lost.pk, expired.pk]).update(updated_at=old)
    Job.objects.filter(pk=dead.pk).update(
        updated_at=now - timedelta(seconds=settings.JOB_STALE_RUNNING_SECONDS + 5))
    counts = job_sweep(now)
    assert counts == {"requeued": 1, "recovered": 1, "expired": 1, "settle": 1}
    assert ("maracker.jobs.execute", (str(lost.pk),)) in sent
    assert ("maracker.jobs.execute", (str(dead.pk),)) in sent
    assert ("maracker.jobs.settle", (str(waiting.pk),)) in sent
    assert Job.objects.get(pk=dead.pk).status == "queued"
    assert Job.objects.get(pk=expired.pk).last_error["code"] == "deadline_exceeded"
    # A second sweep right away sends nothing again for the requeued job.
    sent.clear()
    assert job_sweep(now)["requeued"] == 0


@pytest.mark.django_db
def test_sweeper_leaves_blocked_jobs_to_their_blocker(make_app, monkeypatch, settings):
    monkeypatch.setattr("shared.services.sweeper.send_now", lambda *a, **k: True)
    _, config = make_app()
    new_job(config, status=JobStatus.WAITING)
    blocked = new_job(config)
    Job.objects.filter(pk=blocked.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    assert job_sweep()["requeued"] == 0


@pytest.mark.django_db
@override_settings(JOB_MAX_ATTEMPTS=2)
def test_retryable_errors_give_up_after_max_attempts(make_app, in_process_marathon):
    _, config = make_app()
    in_process_marathon.fail_next(10, 503)
    job = job_services.job_create(kind=JobKind.DEPLOY, config=config)[0]
    job = job_runner.job_execute(job.pk)
    assert job.status == "queued" and job.next_attempt_at is not None
    Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    job = job_runner.job_execute(job.pk)
    assert job.status == "failed" and job.attempts == 2
    assert job.last_error["code"] == "marathon_unavailable" and "gave up" in job.last_error["message"]


@pytest.mark.django_db
def test_no_retry_is_scheduled_inside_the_reserve_before_the_deadline(make_app, in_process_marathon, settings):
    settings.JOB_MAX_ATTEMPTS = 8
    settings.JOB_RETRY_BASE_SECONDS = settings.JOB_RETRY_CAP_SECONDS = 1.0  # each delay in [0.5, 1] s
    settings.JOB_DEADLINE_RESERVE_SECONDS = 5.0
    _, config = make_app()
    in_process_marathon.fail_next(10, 503)
    job = job_services.job_create(kind=JobKind.DEPLOY, config=config)[0]
    # 5.5 s left: a retry in at most 1 s would still leave 4.5 s, inside the 5 s reserve.
    Job.objects.filter(pk=job.pk).update(deadline=timezone.now() + timedelta(seconds=5.5))
    job = job_runner.job_execute(job.pk)
    assert job.status == "failed" and job.attempts == 1
    assert job.finished_at < job.deadline
    assert job.last_error["code"] == "marathon_unavailable" and "gave up after 1 attempts" in job.last_error["message"]


@pytest.mark.django_db
def test_a_job_retrying_when_its_deadline_passes_fails_with_the_error_it_was_retrying(make_app,
                                                                                      in_process_marathon):
    _, config = make_app()
    in_process_marathon.fail_next(10, 503)
    job = job_services.job_create(kind=JobKind.DEPLOY, config=config)[0]
    job = job_runner.job_execute(job.pk)
    assert job.status == "queued" and job.last_error["code"] == "marathon_unavailable"
    # The worker picks the retry up late, past the deadline: Marathon is not asked again.
    requests_before = in_process_marathon.received(limit=0)["total"]
    Job.objects.filter(pk=job.pk).update(deadline=timezone.now() - timedelta(seconds=1),
                                         next_attempt_at=timezone.now())
    job = job_runner.job_execute(job.pk)
    assert job.status == "failed"
    assert job.last_error["code"] == "marathon_unavailable" and job.last_error["retryable"] is False
    assert "deadline passed" in job.last_error["message"] and "gave up after 1 attempts" in job.last_error["message"]
    assert in_process_marathon.received(limit=0)["total"] == requests_before


@pytest.mark.django_db
def test_a_job_that_never_failed_expires_with_deadline_exceeded(make_app):
    _, config = make_app()
    job = new_job(config, status=JobStatus.RUNNING, attempts=1, deadline=timezone.now() - timedelta(seconds=1))
    job = job_services.job_fail_past_deadline(job, "The job's deadline passed before it could run.", claimed=True)
    assert job.last_error == {"code": "deadline_exceeded", "retryable": False, "details": None,
                              "message": "The job's deadline passed before it could run."}


@pytest.mark.django_db
def test_sweeper_expires_a_retrying_job_with_the_error_it_was_retrying(make_app, monkeypatch, settings):
    monkeypatch.setattr("shared.services.sweeper.send_now", lambda *args, **kw: True)
    now = timezone.now()
    _, config = make_app()
    retrying = new_job(config, attempts=3, deadline=now - timedelta(seconds=1),
                       last_error={"code": "registry_unavailable", "message": "registry answered 503",
                                   "retryable": True, "details": {"status": 503}})
    Job.objects.filter(pk=retrying.pk).update(
        updated_at=now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS + 5))
    assert job_sweep(now)["expired"] == 1
    error = Job.objects.get(pk=retrying.pk).last_error
    assert error["code"] == "registry_unavailable" and error["retryable"] is False
    assert error["details"] == {"status": 503} and "gave up after 3 attempts" in error["message"]
