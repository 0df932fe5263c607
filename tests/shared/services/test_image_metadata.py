"""Image metadata jobs run in-process against a real docker-registry: lookup, import, refresh, failures, sources."""
import http.server
import json
import threading
from decimal import Decimal

import pytest
from django.test import override_settings

from shared.models import App, DockerContainer, Job, MarathonConfig
from shared.services import catalog
from shared.services.image_metadata import (
    app_import_create,
    image_lookup_create,
    metadata_job_execute,
    metadata_refresh_create,
)
from tests.fixtures.processes import free_port
from tests.fixtures.registry import new_layout_dir, remove_layout_dir, write_image_layout

pytestmark = pytest.mark.django_db

LABELS = {
    "org.label-schema.name": "Demo Web",
    "org.label-schema.description": "label-schema description",
    "org.label-schema.vcs-url": "https://git.example.com/demo/web",
    "org.label-schema.memory-hint": "512m",
    "org.label-schema.docker.cmd": "docker run -p 8080:8080 svc/demo-web serve --port 8080",
    "org.opencontainers.image.description": "An OCI description",
    "com.example.team": "platform",
}


def push(server, name, tag="1", **image):
    path = new_layout_dir()
    try:
        server.push(write_image_layout(path, tag, **image), name, tag)
    finally:
        remove_layout_dir(path)
    return f"{server.host}/{name}:{tag}"


def run(job):
    metadata_job_execute(job.pk)
    job.refresh_from_db()
    return job


@pytest.fixture(scope="module")
def demo_image(oci_registry):
    return push(oci_registry, "svc/demo-web", labels=LABELS, exposed_ports=["8080/tcp", "9090/tcp", "53/udp"],
                cmd=["serve", "--port", "8080"], env=["MODE=prod"])


def test_lookup_job_succeeds_with_labels_ports_and_cmd(demo_image):
    job, created = image_lookup_create(image=demo_image)
    assert created and job.kind == "image_lookup"
    job = run(job)
    assert job.status == "succeeded", job.last_error
    assert job.attempts == 1
    metadata, suggestion = job.result["metadata"], job.result["suggestion"]
    assert job.result["image"] == demo_image
    assert metadata["labels"] == LABELS
    assert metadata["exposed_ports"] == ["53/udp", "8080/tcp", "9090/tcp"]
    assert metadata["cmd"] == ["serve", "--port", "8080"] and metadata["env"] == ["MODE=prod"]
    assert metadata["digest"].startswith("sha256:") and metadata["source"] == "registry"
    assert suggestion["name"] == "demo-web" and suggestion["ports"] == [8080, 9090]
    assert suggestion["description"] == "An OCI description"  # OCI wins over label-schema
    assert suggestion["memory"] == 512 and suggestion["command"] == "serve --port 8080"
    assert [e.type for e in job.events.all()][-2:] == ["lookup", "transition"]


def test_import_creates_the_app_with_container_ports_and_a_default_configuration(demo_image):
    job, _ = app_import_create(image=demo_image)
    job = run(job)
    assert job.status == "succeeded", job.last_error
    app = App.objects.get(name="demo-web")
    assert job.app_id == app.pk and job.app_name == "demo-web" and job.result["app"] == app.pk
    assert app.description == "An OCI description" and app.vcs_url == "https://git.example.com/demo/web"
    assert app.command == "serve --port 8080"
    assert app.image_labels == LABELS
    assert app.fields_from_labels == ["name", "description", "vcs_url", "command", "ports", "memory"]
    assert app.docker_container.image == demo_image and app.docker_container.ports == [8080, 9090]
    (config,) = app.marathon_configs.all()
    assert config.memory == 512 and config.cpu == Decimal("0.100") and config.instances == 1
    assert job.result["config"] == config.pk


def test_import_uses_the_requested_name_and_a_default_memory_without_hint(oci_registry):
    image = push(oci_registry, "svc/plain", exposed_ports=["80/tcp"])
    job = run(app_import_create(image=image, name="my-plain")[0])
    assert job.status == "succeeded", job.last_error
    app = App.objects.get(name="my-plain")
    assert app.fields_from_labels == ["ports"] and app.image_labels == {}
    assert app.marathon_configs.get().memory == 256


def test_import_under_a_taken_name_fails_with_duplicate_name(demo_image, make_app):
    make_app("taken")
    job = run(app_import_create(image=demo_image, name="taken")[0])
    assert job.status == "failed" and job.last_error["code"] == "duplicate_name"
    assert job.last_error["retryable"] is False and job.attempts == 1
    assert App.objects.filter(name="taken").count() == 1
    assert not DockerContainer.objects.filter(image=demo_image).exists()


def test_an_invalid_vcs_url_label_is_left_out(oci_registry):
    image = push(oci_registry, "svc/badurl", labels={"org.opencontainers.image.source": "not a url"})
    job = run(app_import_create(image=image)[0])
    assert job.status == "succeeded", job.last_error
    app = App.objects.get(name="badurl")
    assert app.vcs_url == "" and "vcs_url" not in app.fields_from_labels
    assert "vcs_url" in job.result["applied"]["skipped"]


def test_refresh_updates_label_fields_and_keeps_a_persons_edits(oci_registry):
    image = push(oci_registry, "svc/refresh", tag="stable", labels=LABELS, exposed_ports=["8080/tcp"])
    run(app_import_create(image=image)[0])
    app = App.objects.get(name="demo-web")
    config = app.marathon_configs.get()
    # A person edits the description through the catalog service, and the memory outside it (admin, SQL).
    catalog.app_update(app, data={"description": "Written by a person"}, partial=True)
    app.refresh_from_db()
    assert "description" not in app.fields_from_labels
    MarathonConfig.objects.filter(pk=config.pk).update(memory=1024)
    # The image changes under the same tag.
    push(oci_registry, "svc/refresh", tag="stable", exposed_ports=["8080/tcp", "8443/tcp"], labels={
        **LABELS,
        "org.opencontainers.image.title": "Renamed Title",
        "org.opencontainers.image.description": "New description",
        "org.opencontainers.image.source": "https://git.example.com/demo/web2",
        "org.label-schema.memory-hint": "768",
        "com.example.team": "another",
    })
    job = run(metadata_refresh_create(app)[0])
    assert job.status == "succeeded", job.last_error
    app.refresh_from_db()
    assert app.name == "demo-web"  # never renamed
    assert app.description == "Written by a person"
    assert app.vcs_url == "https://git.example.com/demo/web2"
    assert app.docker_container.ports == [8080, 8443]
    assert app.marathon_configs.get().memory == 1024
    assert app.image_labels["com.example.team"] == "another"
    assert sorted(job.result["updated"]) == ["ports", "vcs_url"]
    assert job.result["kept"] == {"memory": "changed since the image set it"}
    assert "memory" not in app.fields_from_labels and "description" not in app.fields_from_labels
    # A second refresh of the unchanged image changes nothing.
    job = run(metadata_refresh_create(app)[0])
    assert job.status == "succeeded" and job.result["updated"] == []


def test_catalog_edits_of_ports_and_memory_stop_them_coming_from_labels(demo_image):
    run(app_import_create(image=demo_image, name="edited")[0])
    app = App.objects.get(name="edited")
    catalog.container_update(app.docker_container, data={"ports": [8080]}, partial=True)
    catalog.marathon_config_update(app.marathon_configs.get(), data={"instances": 2}, partial=True)
    app.refresh_from_db()
    assert "ports" not in app.fields_from_labels and "memory" in app.fields_from_labels
    catalog.marathon_config_update(app.marathon_configs.get(), data={"memory": 300}, partial=True)
    catalog.app_update(app, data={"command": "serve --port 8080"}, partial=True)  # unchanged: not an edit
    app.refresh_from_db()
    assert app.fields_from_labels == ["description", "vcs_url", "command"]


def test_unknown_image_fails_with_image_not_found(oci_registry):
    job = run(image_lookup_create(image=f"{oci_registry.host}/svc/nothing-here:1")[0])
    assert job.status == "failed" and job.attempts == 1
    assert job.last_error["code"] == "image_not_found" and job.last_error["retryable"] is False


def test_private_image_without_credentials_fails_with_auth_required(oci_auth_registry):
    image = push(oci_auth_registry, "private/app", labels={"org.opencontainers.image.title": "Secret"})
    job = run(image_lookup_create(image=image)[0])
    assert job.status == "failed" and job.last_error["code"] == "auth_required"
    with override_settings(REGISTRY_CREDENTIALS=oci_auth_registry.credentials):
        job = run(image_lookup_create(image=image)[0])
    assert job.status == "succeeded", job.last_error
    assert job.result["suggestion"]["name"] == "secret"


@override_settings(JOB_MAX_ATTEMPTS=3, JOB_RETRY_BASE_SECONDS=0, REGISTRY_RETRIES=0)
def test_registry_down_is_retried_then_fails_with_registry_unavailable():
    job = image_lookup_create(image=f"127.0.0.1:{free_port()}/svc/app:1")[0]
    job = run(job)
    assert job.status == "queued" and job.attempts == 1 and job.last_error["code"] == "registry_unavailable"
    assert job.next_attempt_at is not None
    job = run(job)
    assert job.status == "queued" and job.attempts == 2
    job = run(job)
    assert job.status == "failed" and job.attempts == 3
    assert job.last_error["code"] == "registry_unavailable" and "gave up after 3 attempts" in job.last_error["message"]
    assert job.events.filter(type="registry_error").count() == 3


def test_refresh_of_a_deleted_app_fails(demo_image, make_app):
    app, _ = make_app("gone", image=demo_image)
    job = metadata_refresh_create(app)[0]
    app.delete()
    job = run(job)
    assert job.status == "failed" and job.last_error["code"] == "app_deleted"


def test_a_job_claimed_elsewhere_is_not_run_twice(demo_image):
    job = run(image_lookup_create(image=demo_image)[0])
    assert metadata_job_execute(job.pk) is None
    assert Job.objects.get(pk=job.pk).attempts == 1


@pytest.fixture
def microbadger():
    answer = {
        "ImageName": "demo/hello", "Author": "Demo Team", "LatestSHA": "sha256:" + "1" * 64, "LatestVersion": "latest",
        "Labels": {"org.label-schema.name": "Hello", "org.label-schema.vcs-url": "https://git.example.com/hello",
                   "org.label-schema.memory-hint": "128"},
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = json.dumps(answer).encode() if self.path == "/v1/images/demo/hello" else b"{}"
            self.send_response(200 if self.path == "/v1/images/demo/hello" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_microbadger_source_chosen_by_settings(microbadger):
    with override_settings(METADATA_SOURCE="microbadger", MICROBADGER_URL=microbadger):
        job = run(image_lookup_create(image="demo/hello")[0])
        assert job.status == "succeeded", job.last_error
        assert job.result["metadata"]["source"] == "microbadger"
        assert job.result["suggestion"]["name"] == "hello" and job.result["suggestion"]["memory"] == 128
        job = run(app_import_create(image="demo/hello")[0])
        assert job.status == "succeeded", job.last_error
        assert App.objects.get(name="hello").vcs_url == "https://git.example.com/hello"
        job = run(image_lookup_create(image="demo/unknown")[0])
        assert job.status == "failed" and job.last_error["code"] == "image_not_found"
