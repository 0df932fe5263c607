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


def problem(response):
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.headers
    return response.json()


def test_crafted_hostile_requests_get_4xx_problems_and_change_nothing(web, auth):
    from shared.models import App

    url = f"{web.url}/api/v1/apps/"
    headers = {**auth, "Content-Type": "application/json"}
    apps_before = App.objects.count()
    outcomes = {}

    # Oversized bodies: announced, and streamed without a length (chunked).
    body = b'{"name": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    outcomes["oversized"] = problem(requests.post(url, data=body, headers=headers, timeout=30))["status"]
    assert outcomes["oversized"] == 413
    outcomes["oversized_chunked"] = problem(
        requests.post(url, data=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]), headers=headers,
                      timeout=30))["status"]
    assert outcomes["oversized_chunked"] in (400, 411, 413)
    # 100,000 nested arrays, then objects.
    for name, doc in (("nested_arrays", "[" * 100_000 + "]" * 100_000),
                      ("nested_objects", '{"a":' * 100_000 + "1" + "}" * 100_000)):
        outcomes[name] = problem(requests.post(url, data=doc, headers=headers, timeout=30))["status"]
        assert outcomes[name] == 400
    # Invalid UTF-8, and a lone surrogate escape.
    outcomes["invalid_utf8"] = problem(requests.post(url, data=b'{"name": "x\xff\xfe"}', headers=headers,
                                                     timeout=30))["status"]
    assert outcomes["invalid_utf8"] == 400
    outcomes["lone_surrogate"] = requests.post(url, data=b'{"name": "x\\ud800"}', headers=headers, timeout=30)
    assert outcomes["lone_surrogate"].status_code < 500
    outcomes["lone_surrogate"] = outcomes["lone_surrogate"].status_code
    # Header injection (CR/LF) in names and labels: refused, and never echoed into an answer's headers.
    for name, doc in (
        ("crlf_name", {"name": "evil\r\nSet-Cookie: injected=1", "docker_container": {"image": "nginx"}}),
        ("crlf_label", {"name": "labelled", "labels": {"traefik.frontend.rule": "Host:a\r\nX-Injected: 1"},
                        "docker_container": {"image": "nginx"}}),
        ("crlf_label_key", {"name": "labelled2", "labels": {"a\r\nX-Injected": "1"},
                            "docker_container": {"image": "nginx"}}),
    ):
        response = requests.post(url, json=doc, headers=auth, timeout=30)
        assert "injected" not in {k.lower() for k in response.headers} and "Set-Cookie" not in response.headers
        outcomes[name] = problem(response)["status"]
        assert outcomes[name] == 400
    # Path traversal in names, raw and encoded, in bodies and in paths.
    for name in ("../etc/passwd", "..", "%2e%2e", "..%2f..%2fetc", "a/../../b"):
        response = requests.post(url, json={"name": name, "docker_container": {"image": "nginx"}}, headers=auth,
                                 timeout=30)
        outcomes[f"name {name}"] = problem(response)["status"]
        assert outcomes[f"name {name}"] == 400
    for path in ("/api/v1/apps/..%2f..%2fetc%2fpasswd/", "/api/v1/apps/%2e%2e/", "/api/v1/apps/%2e%2e%2f%2e%2e/",
                 "/api/v1/marathon-configs/..%2f1/deploy", "/api/v1/jobs/..%2f..%2f"):
        response = requests.get(web.url + path, headers=auth, timeout=30)
        outcomes[f"path {path}"] = response.status_code
        assert response.status_code in (400, 404, 405), (path, response.status_code)
        problem(response)
    assert App.objects.count() == apps_before
    report("hostile input", outcomes)
