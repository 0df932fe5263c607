"""The Boutiques routes: importing descriptors (JSON and upload), bad descriptors, and run requests."""
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from shared.models import App, Job, JobKind, MarathonConfig
from tests.fixtures.descriptors import COMMAND_WITH_PORT, CONTAINER_WITH_ENV, NO_INPUTS, REJECTED, descriptor

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(admin_api_client):
    """These tests act as an admin (with an API token); who may do what is tested in test_permissions.py."""
    return admin_api_client


IMPORT = "/api/v1/apps/import-boutiques"


def post_json(client, url, body, **headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def test_a_command_with_a_port_becomes_an_app_with_its_default_input(admin_client):
    response = post_json(admin_client, IMPORT, COMMAND_WITH_PORT)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "static-file-server"
    assert body["docker_container"]["image"] == "python:3.11-slim"
    assert body["boutiques_descriptor"]["command-line"] == COMMAND_WITH_PORT["command-line"]
    app = App.objects.get(name="static-file-server")
    config = MarathonConfig.objects.get(app=app)
    assert config.inputs == {"port": 8000}
    assert config.memory == 512 and float(config.cpu) == 1.0


def test_environment_variables_go_to_the_configuration(admin_client):
    response = post_json(admin_client, IMPORT, CONTAINER_WITH_ENV)
    assert response.status_code == 201, response.content
    config = MarathonConfig.objects.get(app__name="brain-extraction")
    assert config.env_vars == {"FSLOUTPUTTYPE": "NIFTI_GZ", "FSLDIR": "/opt/fsl"}
    assert config.inputs == {"output": "out.nii.gz"}


def test_a_descriptor_can_be_uploaded_as_a_file(admin_client):
    upload = SimpleUploadedFile("hello.json", json.dumps(NO_INPUTS).encode(), content_type="application/json")
    response = admin_client.post(IMPORT, data={"file": upload})
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "hello-world"
    assert App.objects.get(name="hello-world").boutiques_descriptor == NO_INPUTS


def test_a_bad_descriptor_answers_422_listing_every_error_and_creates_nothing(admin_client):
    response = post_json(admin_client, IMPORT, REJECTED)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_descriptor"
    messages = [error["message"] for error in problem["validation_errors"]]
    assert any("'description' is a required property" in m for m in messages)
    assert any("Colour" in m for m in messages)
    assert "descriptor.inputs/0/type" in problem["errors"]
    assert not App.objects.exists()


@pytest.mark.parametrize("body,field", [
    (descriptor(NO_INPUTS, **{"container-image": None}), "descriptor.container-image"),
    (descriptor(NO_INPUTS, **{"container-image": {"type": "singularity", "image": "x"}}),
     "descriptor.container-image/type"),
    # Past the schema, the boutiques package's own checks: a value key missing from the command line
    (descriptor(COMMAND_WITH_PORT, inputs=COMMAND_WITH_PORT["inputs"] + [
        {"id": "other", "name": "Other", "type": "String", "value-key": "[NOWHERE]"}]), "descriptor.(descriptor)"),
    ([1, 2], "descriptor.(descriptor)"),
    (descriptor(NO_INPUTS, inputs=[]), "descriptor.inputs"),
])
def test_descriptors_that_cannot_run_are_refused(admin_client, body, field):
    if isinstance(body, dict) and body.get("container-image") is None:
        body.pop("container-image")
    response = post_json(admin_client, IMPORT, body)
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"]
    assert not App.objects.exists()


def test_an_upload_that_is_not_json_answers_400(admin_client):
    upload = SimpleUploadedFile("x.json", b"{not json", content_type="application/json")
    response = admin_client.post(IMPORT, data={"file": upload})
    assert response.status_code == 400
    assert "file" in response.json()["errors"]


def test_importing_a_name_twice_answers_409(admin_client):
    assert post_json(admin_client, IMPORT, NO_INPUTS).status_code == 201
    response = post_json(admin_client, IMPORT, NO_INPUTS)
    assert response.status_code == 409
    assert App.objects.count() == 1


def _imported(client, desc):
    response = post_json(client, IMPORT, desc)
    assert response.status_code == 201, response.content
    return response.json()["marathon_configs"][0]["id"]


def test_a_run_request_answers_202_with_a_run_job_and_its_inputs(admin_client):
    config_id = _imported(admin_client, COMMAND_WITH_PORT)
    response = post_json(admin_client, f"/api/v1/marathon-configs/{config_id}/run",
                         {"inputs": {"port": 9000, "bind": "0.0.0.0"}})
    assert response.status_code == 202, response.content
    assert response["Location"] == f"/api/v1/jobs/{response.json()['id']}"
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == JobKind.RUN
    assert job.params == {"inputs": {"port": 9000, "bind": "0.0.0.0"}}
    assert (job.deadline - job.created_at).total_seconds() > 3600


@pytest.mark.parametrize("inputs,field", [
    ({"port": "eighty"}, "inputs.port"),
    ({"port": 70000}, "inputs.port"),
    ({"colour": "red"}, "inputs.colour"),
])
def test_inputs_that_do_not_fit_the_descriptor_answer_400_and_create_no_job(admin_client, inputs, field):
    config_id = _imported(admin_client, COMMAND_WITH_PORT)
    response = post_json(admin_client, f"/api/v1/marathon-configs/{config_id}/run", {"inputs": inputs})
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Job.objects.exists()


def test_a_required_input_without_a_value_is_named(admin_client):
    config_id = _imported(admin_client, CONTAINER_WITH_ENV)
    response = post_json(admin_client, f"/api/v1/marathon-configs/{config_id}/run", {})
    assert response.status_code == 400
    assert any("input" in m for m in response.json()["errors"]["inputs"])


def test_run_of_an_unknown_configuration_answers_404(admin_client):
    assert post_json(admin_client, "/api/v1/marathon-configs/999999/run", {}).status_code == 404


def test_an_app_without_a_descriptor_runs_without_inputs_only(admin_client):
    response = post_json(admin_client, "/api/v1/apps", {
        "name": "plain", "docker_container": {"image": "nginx:1.25", "ports": [80]},
        "marathon_configs": [{"cpu": 0.1, "memory": 64}]})
    assert response.status_code == 201, response.content
    config_id = response.json()["marathon_configs"][0]["id"]
    bad = post_json(admin_client, f"/api/v1/marathon-configs/{config_id}/run", {"inputs": {"x": 1}})
    assert bad.status_code == 400 and "inputs" in bad.json()["errors"]
    assert post_json(admin_client, f"/api/v1/marathon-configs/{config_id}/run", {}).status_code == 202
