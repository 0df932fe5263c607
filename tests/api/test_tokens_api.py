"""API tokens: shown once, stored hashed, Token or Bearer, expiry, revocation, last use; the commands that make them."""
import io
import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shared.models import ApiToken
from tests.fixtures.auth import make_user, token_client
from tests.fixtures.catalog import create_app

pytestmark = pytest.mark.django_db


def create_token(client, **body):
    return client.post("/api/v1/tokens", data=json.dumps(body), content_type="application/json")


def test_a_token_is_shown_once_stored_hashed_and_listed_by_its_prefix(viewer_api_client):
    response = create_token(viewer_api_client, name="laptop", expires_days=30)
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    created = response.json()
    key = created["key"]
    assert key.startswith("mrk_") and len(key) == 68 and created["prefix"] == key[:15]
    assert created["name"] == "laptop" and created["expires_at"] and created["last_used_at"] is None
    assert response["Location"] == f"/api/v1/tokens/{created['prefix']}"
    # only a digest of the key is stored, in no column as itself
    token = ApiToken.objects.get(token_key=created["prefix"])
    assert token.digest != key and len(token.digest) == 128
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM shared_apitoken WHERE digest = %s OR token_key = %s OR name = %s",
                       [key, key, key])
        assert cursor.fetchone()[0] == 0
    listed = viewer_api_client.get("/api/v1/tokens").json()
    assert {item["prefix"] for item in listed} == {created["prefix"], viewer_api_client.token_key[:15]}
    assert all("key" not in item for item in listed)
    assert key not in json.dumps(listed)


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "bearer"])
def test_token_and_bearer_are_both_accepted(scheme):
    user = make_user("viewer")
    assert token_client(user, scheme=scheme).get("/api/v1/jobs").status_code == 200


def test_last_used_time_is_recorded_at_most_once_a_minute():
    client = token_client(make_user("viewer"))
    token = ApiToken.objects.get(token_key=client.token_key[:15])
    assert token.last_used_at is None
    client.get("/api/v1/jobs")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get("/api/v1/jobs")
    token.refresh_from_db()
    assert token.last_used_at == first  # within the interval: no write
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=5))
    client.get("/api/v1/jobs")
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(minutes=5)


def test_an_expired_token_is_refused_and_deleted():
    client = token_client(make_user("viewer"), expires_days=1)
    assert client.get("/api/v1/jobs").status_code == 200
    ApiToken.objects.filter(token_key=client.token_key[:15]).update(expiry=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/jobs")
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"
    assert not ApiToken.objects.filter(token_key=client.token_key[:15]).exists()


def test_a_token_is_checked_in_one_statement_and_a_wrong_secret_under_its_prefix_is_refused():
    client = token_client(make_user("viewer"))
    assert client.get("/api/v1/tokens").status_code == 200  # connection and statements warmed up
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/tokens").status_code == 200
    # The token with its user, then the list: no separate read of the user.
    assert len(queries.captured_queries) == 2, [q["sql"] for q in queries.captured_queries]
    key = client.token_key
    forged = key[:15] + ("0" if key[15] != "0" else "1") + key[16:]  # right visible prefix, wrong secret
    for bad in (forged, key[:15], key + "00", "mrk_" + "z" * 64, "Ã¿" * 20):
        response = Client(HTTP_AUTHORIZATION=f"Token {bad}").get("/api/v1/jobs")
        assert response.status_code == 401, bad
        assert response.json()["code"] == "authentication_failed"


def test_an_inactive_users_token_is_refused():
    user = make_user("viewer")
    client = token_client(user)
    assert client.get("/api/v1/jobs").status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = client.get("/api/v1/jobs")
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"


def test_a_revoked_token_stops_working_and_only_its_owner_can_revoke_it():
    owner = token_client(make_user("viewer"))
    other = token_client(make_user("viewer"))
    prefix = owner.token_key[:15]
    assert other.delete(f"/api/v1/tokens/{prefix}").status_code == 404  # not theirs: as if it did not exist
    assert owner.get("/api/v1/jobs").status_code == 200
    assert owner.delete(f"/api/v1/tokens/{prefix}").status_code == 204
    response = owner.get("/api/v1/jobs")
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Token realm="api"'
    assert Client().delete(f"/api/v1/tokens/{prefix}").status_code == 401


@pytest.mark.parametrize("body,field", [({"name": 5}, "name"), ({"name": "x" * 101}, "name"),
                                        ({"expires_days": -1}, "expires_days"),
                                        ({"expires_days": "soon"}, "expires_days"),
                                        ({"expires_days": 4000}, "expires_days")])
def test_bad_token_requests_name_the_field(viewer_api_client, body, field):
    response = create_token(viewer_api_client, **body)
    assert response.status_code == 400 and field in response.json()["errors"]


@override_settings(API_TOKEN_DEFAULT_EXPIRY_DAYS=7)
def test_tokens_expire_after_the_default_days_unless_told_otherwise(viewer_api_client):
    expiring = create_token(viewer_api_client).json()
    assert expiring["expires_at"] is not None
    forever = create_token(viewer_api_client, expires_days=0).json()
    assert forever["expires_at"] is None


# --- Throttling of job creation -----------------------------------------------------------------------------


@override_settings(JOB_CREATE_RATE="2/min")
def test_job_creation_is_throttled_per_token_with_a_429_problem_and_retry_after():
    cache.clear()
    owner = make_user("deployer")
    app, config = create_app()
    app.owner = owner
    app.save()
    first, second = token_client(owner), token_client(owner)
    url = f"/api/v1/marathon-configs/{config.pk}/deploy"
    statuses = [first.post(url, data="{}", content_type="application/json").status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    refused = first.post(url, data="{}", content_type="application/json")
    assert refused.status_code == 429 and refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "throttled" and refused.json()["status"] == 429
    assert 1 <= int(refused["Retry-After"]) <= 61
    # another token has its own allowance; reads are not throttled
    assert second.post(url, data="{}", content_type="application/json").status_code == 202
    assert first.get("/api/v1/jobs").status_code == 200
    # the ancestor's route counts against the same allowance
    assert first.post(f"/deploy/{config.pk}").status_code == 429
    cache.clear()


# --- The audit log ------------------------------------------------------------------------------------------


def test_the_audit_log_names_who_changed_the_catalog_and_asked_for_jobs(admin_api_client):
    deployer = token_client(make_user("deployer", username="dora"))
    created = deployer.post("/api/v1/apps/", data=json.dumps({
        "name": "audited", "docker_container": {"image": "nginx"}, "marathon_configs": [{"cpu": 0.1, "memory": 64}]}),
        content_type="application/json", headers={"X-Request-ID": "req-audit-1"}).json()
    config_id = created["marathon_configs"][0]["id"]
    job = deployer.post(f"/api/v1/marathon-configs/{config_id}/scale", data='{"instances": 3}',
                        content_type="application/json").json()
    deployer.patch(f"/api/v1/apps/{created['id']}/", data='{"description": "new"}', content_type="application/json")

    entries = admin_api_client.get("/api/v1/audit?actor=dora").json()
    assert entries["count"] == 4
    by_action = {entry["action"]: entry for entry in entries["results"]}
    assert set(by_action) == {"token.created", "app.created", "job.scale", "app.updated"}
    assert deployer.token_key not in json.dumps(entries)  # the token's prefix only
    assert by_action["app.created"]["request_id"] == "req-audit-1"
    assert by_action["app.created"]["target_type"] == "app" and by_action["app.created"]["target_id"] == str(created["id"])
    assert by_action["job.scale"]["target_id"] == job["id"] and "instances=3" in by_action["job.scale"]["summary"]
    assert "description" in by_action["app.updated"]["summary"]
    filtered = admin_api_client.get("/api/v1/audit?action=job.scale,app.updated&target_type=job").json()
    assert [entry["action"] for entry in filtered["results"]] == ["job.scale"]
    bad = admin_api_client.get("/api/v1/audit?since=yesterday")
    assert bad.status_code == 400 and "since" in bad.json()["errors"]
    assert deployer.get("/api/v1/audit").status_code == 403


def test_an_audit_entry_is_written_with_its_change_or_not_at_all(admin_api_client):
    from shared.models import App, AuditEntry

    create_app(name="taken")
    response = admin_api_client.post("/api/v1/apps/", data=json.dumps({
        "name": "taken", "docker_container": {"image": "nginx"}}), content_type="application/json")
    assert response.status_code == 409
    assert not AuditEntry.objects.filter(action="app.created").exists()
    assert App.objects.filter(name="taken").count() == 1


# --- Management commands ------------------------------------------------------------------------------------


def test_create_token_prints_a_working_key():
    make_user("deployer", username="ci-bot")
    out, err = io.StringIO(), io.StringIO()
    call_command("create_token", "--user", "ci-bot", "--name", "ci", "--expires-days", "2", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert key.startswith("mrk_") and key[:15] in err.getvalue() and key not in err.getvalue()
    token = ApiToken.objects.get(token_key=key[:15])
    assert token.name == "ci" and timedelta(days=1) < token.expiry - timezone.now() <= timedelta(days=2)
    assert Client(headers={"Authorization": f"Bearer {key}"}).get("/api/v1/jobs").status_code == 200


def test_create_token_refuses_an_unknown_user():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user named"):
        call_command("create_token", "--user", "nobody", stdout=io.StringIO(), stderr=io.StringIO())


def test_ensure_demo_admin_is_idempotent_and_keeps_its_secrets_in_files(tmp_path):
    from django.contrib.auth import get_user_model

    password_file, token_file = tmp_path / "admin_password", tmp_path / "admin_token"
    args = ["--password-file", str(password_file), "--token-file", str(token_file)]
    first = io.StringIO()
    call_command("ensure_demo_admin", *args, stdout=first)
    password, key = password_file.read_text().strip(), token_file.read_text().strip()
    assert oct(password_file.stat().st_mode & 0o777) == "0o600" and oct(token_file.stat().st_mode & 0o777) == "0o600"
    assert password in first.getvalue() and key in first.getvalue()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    second = io.StringIO()
    call_command("create_demo_admin", *args, stdout=second)  # the name `make run` calls
    assert second.getvalue() == first.getvalue()  # same password, same token
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert ApiToken.objects.filter(user=admin).count() == 1
    assert Client(headers={"Authorization": f"Token {key}"}).get("/api/v1/audit").status_code == 200


def test_staff_manage_users_roles_and_tokens_in_django_admin(admin_client):
    make_user("viewer", username="listed")
    client_token = token_client(make_user("deployer"))
    assert "listed" in admin_client.get("/admin/auth/user/").content.decode()
    assert client_token.token_key[:15] in admin_client.get("/admin/shared/apitoken/").content.decode()
    assert admin_client.get("/admin/shared/auditentry/").status_code == 200
    assert Client().get("/admin/").status_code == 302  # to the admin's sign-in


@override_settings(JOB_CREATE_RATE="5/min")
def test_the_window_counter_expires_and_a_redis_outage_lets_requests_through(monkeypatch):
    import redis

    from api import throttling

    cache.clear()
    owner = make_user("deployer")
    app, config = create_app()
    app.owner = owner
    app.save()
    client = token_client(owner)
    url = f"/api/v1/marathon-configs/{config.pk}/deploy"
    assert client.post(url, data="{}", content_type="application/json").status_code == 202
    keys = throttling._redis().keys("maracker:throttle:job_create:*")
    assert len(keys) == 1 and int(throttling._redis().get(keys[0])) == 1
    assert 0 < throttling._redis().ttl(keys[0]) <= 61
    # Redis unreachable: the job request is not refused for want of a counter.
    monkeypatch.setattr(throttling, "_client", redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    statuses = [client.post(url, data="{}", content_type="application/json").status_code for _ in range(7)]
    assert statuses == [202] * 7
    monkeypatch.undo()
    cache.clear()
