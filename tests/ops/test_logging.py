"""Structured logs: one JSON object per line, request ids on web lines, job ids on task lines, secrets redacted."""
import io
import json
import logging

import pytest
import structlog
from django.conf import settings

from config.logging import redact_text
from shared import logctx


@pytest.fixture
def log_lines():
    """The real formatter of settings.LOGGING on a handler that writes into a buffer."""
    spec = dict(settings.LOGGING["formatters"]["structured"])
    formatter = spec.pop("()")(**spec)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    root.removeHandler(handler)
    root.setLevel(old_level)
    structlog.contextvars.clear_contextvars()


@pytest.mark.parametrize("text, expected", [
    ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
    ("connect postgres://maracker:pa55@db/maracker failed", "connect postgres://maracker:***@db/maracker failed"),
    ("Authorization: Bearer abcdef123456", "Authorization: Bearer ***"),
    ("Basic YWRtaW46cGFzcw==", "Basic ***"),
    ("password=hunter2 user=bob", "password=*** user=bob"),
    ("token: 'abc123def'", "token: '***'"),
    ("http://marathon:8080/v2/apps", "http://marathon:8080/v2/apps"),
    ("redis://redis:6379/0", "redis://redis:6379/0"),
])
def test_redact_text(text, expected):
    assert redact_text(text) == expected


@pytest.mark.django_db
def test_every_web_line_carries_the_request_id(client, log_lines):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="req-123")
    assert response["X-Request-ID"] == "req-123"
    client.get("/api/v1/jobs/not-a-job", HTTP_X_REQUEST_ID="req-456")
    lines = log_lines()
    requests = [line for line in lines if line["event"] == "request"]
    assert [(r["request_id"], r["path"], r["status"]) for r in requests] == [
        ("req-123", "/healthz", 200), ("req-456", "/api/v1/jobs/not-a-job", requests[1]["status"])]
    assert all("request_id" in line for line in lines if line["logger"].startswith(("django", "maracker", "api")))
    assert all(line["level"] and line["ts"] for line in lines)


def test_job_context_on_task_lines_and_secrets_never_written(log_lines):
    class FakeJob:  # only the attributes bind_job reads
        pk = "3f1c0a52-0000-4000-8000-000000000000"
        kind = "deploy"
        marathon_app_id = "/maracker/nginx-test/1"

    logctx.bind_task("task-1", "maracker.jobs.execute")
    logctx.bind_job(FakeJob())
    logging.getLogger("shared.services.job_runner").info("calling %s", "http://u:pw@marathon:8080/v2/apps")
    logctx.get_logger("worker").info("accepted", token="t0ps3cret", headers={"Authorization": "Bearer abcdefgh"})
    lines = log_lines()
    assert len(lines) == 2
    for line in lines:
        assert line["job_id"] == FakeJob.pk and line["marathon_app_id"] == "/maracker/nginx-test/1"
        assert line["task"] == "maracker.jobs.execute" and line["job_kind"] == "deploy"
    assert lines[0]["event"] == "calling http://u:***@marathon:8080/v2/apps"
    assert lines[1]["token"] == "***" and lines[1]["headers"] == {"Authorization": "***"}
    assert "t0ps3cret" not in json.dumps(lines) and "pw@" not in json.dumps(lines)


def test_a_new_task_starts_with_a_clean_context(log_lines):
    logctx.bind_task("task-1", "maracker.jobs.execute", job_id="job-a")
    logctx.bind_task("task-2", "maracker.maintenance.sweep")
    logging.getLogger("x").info("sweeping")
    (line,) = log_lines()
    assert line["task_id"] == "task-2" and "job_id" not in line
