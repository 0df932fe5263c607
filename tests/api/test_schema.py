"""The OpenAPI document: served, valid, and complete for the catalog's routes, bodies and error answers."""
import subprocess
import sys

import pytest
import yaml

from tests.fixtures import processes

CATALOG_OPERATIONS = {
    "/api/v1/apps/": {"get", "post"},
    "/api/v1/apps/{ref}/": {"get", "put", "patch", "delete"},
    "/api/v1/apps/{ref}/marathon-configs/": {"post"},
    "/api/v1/marathon-configs/{id}/": {"get", "put", "patch", "delete"},
    "/api/v1/containers/{id}/": {"get", "put", "patch"},
    "/apps/": {"get", "post"},
    "/apps/{ref}/": {"get", "put", "patch", "delete"},
    "/container/docker/{id}/": {"get", "put", "patch"},
    "/marathon-config/{id}/": {"get", "put", "patch", "delete"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_every_catalog_route_and_method_is_documented(schema):
    for path, methods in CATALOG_OPERATIONS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path


def test_writes_document_their_body_and_problem_answers(schema):
    for path, methods in CATALOG_OPERATIONS.items():
        for method in methods:
            operation = schema["paths"][path][method]
            codes = set(operation["responses"])
            if method in ("post", "put", "patch"):
                assert "application/json" in operation["requestBody"]["content"], (path, method)
                assert {"400", "413", "415"} <= codes, (path, method)
            if "{" in path:
                assert "404" in codes, (path, method)
            for code in codes - {"200", "201", "202", "204", "414"}:  # 414: the web server, as HTML
                ref = operation["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/Problem"), (path, method, code)
    assert "409" in schema["paths"]["/api/v1/apps/"]["post"]["responses"]
    assert "409" in schema["paths"]["/api/v1/apps/{ref}/"]["put"]["responses"]


def test_the_app_schema_carries_the_ancestors_members(schema):
    app = schema["components"]["schemas"]["App"]["properties"]
    assert {"id", "name", "description", "command", "vcs_url", "docker_container", "marathon_configs"} <= set(app)
    config = schema["components"]["schemas"]["AppMarathonConfig"]["properties"]
    assert config["cpu"]["type"] == "number" and config["memory"]["minimum"] == 32


def test_the_list_is_paginated_and_documents_its_parameters(schema):
    operation = schema["paths"]["/api/v1/apps/"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"search", "image", "ordering", "page", "page_size"} <= names
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("PaginatedAppList")
    legacy = schema["paths"]["/apps/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert legacy["type"] == "array"


def test_swagger_ui_is_served(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200 and b"swagger" in response.content.lower()


@pytest.mark.django_db
def test_spectacular_validates_without_warnings(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml")],
        cwd=processes.ROOT, env=processes.test_env(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
