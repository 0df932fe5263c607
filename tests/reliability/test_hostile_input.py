"""Scenario 8: hostile input against a real gunicorn: schemathesis over the OpenAPI schema, and crafted attacks."""
import os
import sys
import subprocess
import time

import pytest
import requests

from tests.fixtures.catalog import create_app
from tests.fixtures.processes import ROOT
from tests.reliability.conftest import api_headers, report, size, start_web

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = size(5, 50)
# Zero 5xx, and every answer as the schema says: documented status, content type, headers and body.
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])
ST = os.path.join(os.path.dirname(sys.executable), "st")  # the venv's schemathesis command line


@pytest.fixture(scope="module")
def web(django_db_setup, private_redis, tmp_path_factory):
    server = start_web(tmp_path_factory.mktemp("web"), private_redis.url, JOB_CREATE_RATE="100000/min")
    yield server
    server.stop()


@pytest.fixture
def auth(web):
    for _ in range(3):
        create_app()
    return api_headers()


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(web, auth, tmp_path):
    header = "{}: {}".format(*next(iter(auth.items()))) if auth else None
    probe = requests.get(f"{web.url}/api/v1/jobs", headers=auth, timeout=10)
    assert probe.status_code == 200, probe.text
    args = [ST, "run", f"{web.url}/api/schema/", "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
            "--seed", "12", "--phases", "examples,coverage,fuzzing,stateful", "--workers", "2",
            "--report", "junit", "--report-dir", str(tmp_path), "--no-color", "--request-timeout", "30",
            "--generation-with-security-parameters", "false", "--output-sanitize", "false",
            # Revoking a token works, and would sign the run itself out: every later answer a 401.
            "--exclude-path-regex", "^/api/v1/tokens/"]
    if header:
        args += ["-H", header]
    started = time.monotonic()
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=size(240, 1800))
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "reliability-schemathesis.txt").write_text(output)
    summary = [line for line in output.splitlines() if "passed" in line or "failed" in line or "cases" in line]
    report("schemathesis", {"exit": result.returncode, "seconds": round(elapsed, 1),
                            "summary": " | ".join(summary[-4:])})
    assert result.returncode == 0, output[-8000:]
