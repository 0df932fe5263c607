"""The one-statement writes and reads: prepared once per database session, the same answers either way."""
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import JSONField
from django.utils.safestring import SafeString
from django.test import override_settings

from shared.models import (
    ApiToken,
    App,
    AuditEntry,
    Deployment,
    DeploymentStatus,
    DockerContainer,
    Job,
    JobEvent,
    JobKind,
    MarathonConfig,
)
from shared.statements import (
    _prepare_sql,
    db_value,
    execute,
    insert_together,
    select_by_pk,
    select_joined,
    select_where,
    update_rows,
    upsert,
)

pytestmark = pytest.mark.django_db

SAMPLE_VALUES = [None, "", "x", "ünï", 0, 7, -3, 2**40, True, False, uuid.uuid4(), Decimal("0.5"), 1.5,
                 datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), datetime(2026, 1, 2, 3, 4, 5),
                 date(2026, 1, 2), SafeString("safe"), ["a"], {"k": 1}]


def prepared_names():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'maracker_%%'")
        return {name for (name,) in cursor.fetchall()}


def test_placeholders_become_numbered_parameters_and_percent_signs_stay():
    name, prepare, run = _prepare_sql("SELECT %s, '100%%', %s")
    assert prepare == f"PREPARE {name} AS SELECT $1, '100%', $2"
    assert run == f"EXECUTE {name} (%s, %s)" and len(name) <= 63
    assert _prepare_sql("SELECT 1")[2] == f"EXECUTE {_prepare_sql('SELECT 1')[0]}"


def test_a_statement_is_prepared_once_per_session_and_answers_like_a_plain_one():
    sql = "SELECT %s::int + 1, '50%%'"
    name = _prepare_sql(sql)[0]
    with connection.cursor() as cursor:
        assert execute(cursor, sql, [1]).fetchone() == (2, "50%")
        assert execute(cursor, sql, [41]).fetchone() == (42, "50%")
    assert name in prepared_names()
    with override_settings(DATABASE_PREPARED_STATEMENTS=False), connection.cursor() as cursor:
        assert execute(cursor, "SELECT %s::int * 3", [3]).fetchone() == (9,)
    assert _prepare_sql("SELECT %s::int * 3")[0] not in prepared_names()


def test_a_failed_statement_or_a_rollback_keeps_the_session_usable():
    job = Job(kind=JobKind.DEPLOY, deadline="2030-01-01T00:00:00Z")
    insert_together(job)
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_together(Job(id=job.pk, kind=JobKind.DEPLOY, deadline="2030-01-01T00:00:00Z"))  # same key
    with transaction.atomic():
        insert_together(JobEvent(job_id=job.pk, type="note"))
        transaction.set_rollback(True)
    insert_together(JobEvent(job_id=job.pk, type="note"), AuditEntry(action="x", target_type="job"))
    assert JobEvent.objects.filter(job=job).count() == 1 and AuditEntry.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again():
    job = Job(kind=JobKind.DEPLOY, deadline="2030-01-01T00:00:00Z")
    insert_together(job)
    where = "j.id = %s"
    assert select_joined((("j", Job),), "FROM shared_job j", where, [job.pk])[0].pk == job.pk
    connection.close()  # the next query opens a new session, which has no prepared statements
    assert prepared_names() == set()
    assert select_joined((("j", Job),), "FROM shared_job j", where, [job.pk])[0].pk == job.pk
    assert len(prepared_names()) == 1


def test_select_by_pk_reads_an_instance_with_its_fields_converted():
    job = Job(kind=JobKind.DEPLOY, deadline="2030-01-01T00:00:00Z", params={"instances": 2})
    insert_together(job)
    read = select_by_pk(Job, job.pk)
    assert read.pk == job.pk and read.params == {"instances": 2} and read.deadline.year == 2030
    assert read._state.adding is False
    assert select_by_pk(Job, str(job.pk)).pk == job.pk
    assert select_by_pk(Job, "00000000-0000-0000-0000-000000000000") is None


def test_upsert_inserts_then_updates_only_the_named_fields():
    first = Deployment(marathon_app_id="/maracker/a", status=DeploymentStatus.DEPLOYING, instances=1,
                       deployment_id="d1", public_url="http://a")
    upsert(first, "marathon_app_id", ["status", "deployment_id"])
    again = Deployment(marathon_app_id="/maracker/a", status=DeploymentStatus.RUNNING, instances=5,
                       deployment_id="d2", public_url="http://b")
    upsert(again, "marathon_app_id", ["status", "deployment_id"])
    row = Deployment.objects.get()
    assert (row.status, row.deployment_id, row.instances, row.public_url) == ("running", "d2", 1, "http://a")


def test_select_where_reads_matching_rows_in_order_and_locks_them_when_asked():
    for name, status in (("/a", "queued"), ("/b", "running"), ("/c", "succeeded")):
        insert_together(Job(kind=JobKind.DEPLOY, marathon_app_id=name, status=status,
                            deadline="2030-01-01T00:00:00Z"))
    found = select_where(Job, "marathon_app_id = ANY(%s) AND status IN ('queued', 'running') ORDER BY "
                              "marathon_app_id DESC", [["/a", "/b", "/c"]])
    assert [job.marathon_app_id for job in found] == ["/b", "/a"]
    assert select_where(Job, "marathon_app_id = ANY(%s)", [[]]) == []
    with transaction.atomic():
        assert len(select_where(Job, "marathon_app_id = %s FOR UPDATE", ["/c"])) == 1


def test_update_rows_writes_each_rows_own_values_of_the_named_fields_only():
    rows = []
    for index in range(3):
        row = Deployment(marathon_app_id=f"/maracker/{index}", status=DeploymentStatus.DEPLOYING, instances=1)
        upsert(row, "marathon_app_id", ["status"])
        rows.append(Deployment.objects.get(marathon_app_id=f"/maracker/{index}"))
    for index, row in enumerate(rows[:2]):
        row.status, row.tasks_running, row.tasks = DeploymentStatus.RUNNING, index + 1, [{"id": f"t{index}"}]
        row.instances = 99  # not named: stays
    assert update_rows(rows[:2], ["status", "tasks_running", "tasks"]) == 2
    stored = {row.marathon_app_id: row for row in Deployment.objects.all()}
    assert [(stored[f"/maracker/{i}"].status, stored[f"/maracker/{i}"].tasks_running, stored[f"/maracker/{i}"].tasks,
             stored[f"/maracker/{i}"].instances) for i in range(3)] == [
        ("running", 1, [{"id": "t0"}], 1), ("running", 2, [{"id": "t1"}], 1), ("deploying", 0, Deployment().tasks, 1)]
    assert update_rows([], ["status"]) == 0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a naive datetime: Django warns, as it should
def test_db_value_sends_what_the_fields_own_conversion_sends():
    """Every field of the models written by these statements, with values of every common type: the shortcut
    for values sent unchanged gives what `get_db_prep_save` gives, or it is not taken."""
    checked = 0
    for model in (Job, JobEvent, AuditEntry, App, DockerContainer, MarathonConfig, Deployment, ApiToken):
        for field in model._meta.concrete_fields:
            if isinstance(field, JSONField):
                continue  # sent as JSON text on purpose (see db_value)
            for value in SAMPLE_VALUES:
                try:
                    expected = field.get_db_prep_save(value, connection=connection)
                except (TypeError, ValueError, ValidationError, AttributeError):
                    continue
                got = db_value(field, value)
                assert got == expected and type(got) is type(expected), (model, field.name, value, got, expected)
                checked += 1
    assert checked > 300
