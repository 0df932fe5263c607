"""Image metadata jobs carried out by a real Celery worker on the metadata queue, through the HTTP API."""
import json

import pytest
import redis
from django.test import override_settings

from shared.models import App, Job
from tests.fixtures.celery_worker import start_worker
from tests.fixtures.jobs import wait_job
from tests.fixtures.processes import free_port
from tests.fixtures.registry import new_layout_dir, remove_layout_dir, write_image_layout

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(admin_api_client):
    """These tests act as an admin (with an API token); who may do what is tested in test_permissions.py."""
    return admin_api_client


LABELS = {
    "org.opencontainers.image.title": "Shop Front",
    "org.opencontainers.image.description": "The shop's web front",
    "org.opencontainers.image.source": "https://git.example.com/shop/front",
    "org.label-schema.memory-hint": "384m",
    "org.label-schema.docker.cmd": "docker run -p 8000:8000 shop/front gunicorn app:wsgi",
}


def post(client, url, body=None, **headers):
    return client.post(url, data=json.dumps(body) if body is not None else None, content_type="application/json",
                       **headers)


def push(server, name, tag="1", **image):
    path = new_layout_dir()
    try:
        server.push(write_image_layout(path, tag, **image), name, tag)
    finally:
        remove_layout_dir(path)
    return f"{server.host}/{name}:{tag}"


def accepted_job(response):
    assert response.status_code == 202, response.content
    return response.json()["id"]


@pytest.fixture
def worker(celery_worker):
    return celery_worker


@pytest.fixture(scope="module")
def shop_image(oci_registry):
    return push(oci_registry, "shop/front", labels=LABELS, exposed_ports=["8000/tcp"],
                cmd=["gunicorn", "app:wsgi"], entrypoint=["/entry.sh"])


def test_lookup_job_succeeds_with_the_images_labels_ports_and_cmd(client, worker, shop_image):
    job = wait_job(accepted_job(post(client, "/api/v1/images/lookups", {"image": shop_image})))
    assert job.status == "succeeded", job.last_error
    body = client.get(f"/api/v1/jobs/{job.pk}").json()
    metadata = body["result"]["metadata"]
    assert metadata["labels"] == LABELS and metadata["exposed_ports"] == ["8000/tcp"]
    assert metadata["cmd"] == ["gunicorn", "app:wsgi"] and metadata["entrypoint"] == ["/entry.sh"]
    assert body["result"]["suggestion"]["name"] == "shop-front"
    assert body["result"]["suggestion"]["command"] == "gunicorn app:wsgi"
    assert "registry-metadata" in " ".join(str(k) for k in redis.Redis.from_url(
        __import__("django.conf").conf.settings.REDIS_URL).keys("*registry-metadata*"))


def test_import_then_refresh_keeps_a_persons_edit(client, worker, oci_registry):
    image = push(oci_registry, "shop/cart", tag="live", labels=LABELS, exposed_ports=["8000/tcp"])
    job = wait_job(accepted_job(post(client, "/api/v1/apps/import", {"image": image, "name": "cart"})))
    assert job.status == "succeeded", job.last_error
    app = App.objects.get(name="cart")
    assert app.docker_container.image == image and app.docker_container.ports == [8000]
    assert app.marathon_configs.get().memory == 384
    assert app.description == "The shop's web front"
    assert app.command == ""  # the docker.cmd label runs shop/front, not this image
    # A person edits the description through the catalog API.
    response = client.patch(f"/api/v1/apps/{app.pk}", data=json.dumps({"description": "Our cart"}),
                            content_type="application/json")
    assert response.status_code == 200, response.content
    app.refresh_from_db()
    assert "description" not in app.fields_from_labels
    push(oci_registry, "shop/cart", tag="live", exposed_ports=["8000/tcp"], labels={
        **LABELS, "org.opencontainers.image.description": "Changed upstream",
        "org.opencontainers.image.source": "https://git.example.com/shop/cart"})
    job = wait_job(accepted_job(post(client, f"/api/v1/apps/{app.pk}/refresh-metadata")))
    assert job.status == "succeeded", job.last_error
    app.refresh_from_db()
    assert app.description == "Our cart" and app.vcs_url == "https://git.example.com/shop/cart"
    assert job.result["updated"] == ["vcs_url"]


def test_importing_a_taken_name_fails_with_duplicate_name(client, worker, shop_image, make_app):
    make_app("shop-front")
    job = wait_job(accepted_job(post(client, "/api/v1/apps/import", {"image": shop_image})))
    assert job.status == "failed" and job.last_error["code"] == "duplicate_name"


def test_unknown_image_fails_with_image_not_found(client, worker, oci_registry):
    job = wait_job(accepted_job(post(client, "/api/v1/images/lookups", {"image": f"{oci_registry.host}/no/such:1"})))
    assert job.status == "failed" and job.last_error["code"] == "image_not_found" and job.attempts == 1


def test_private_image_without_credentials_fails_with_auth_required(client, worker, oci_auth_registry):
    image = push(oci_auth_registry, "private/front", labels=LABELS)
    job = wait_job(accepted_job(post(client, "/api/v1/apps/import", {"image": image})))
    assert job.status == "failed" and job.last_error["code"] == "auth_required" and job.attempts == 1
    assert not App.objects.filter(name="shop-front").exists()


@override_settings(JOB_MAX_ATTEMPTS=3)
def test_registry_down_fails_with_registry_unavailable_after_retries(client, worker):
    image = f"127.0.0.1:{free_port()}/shop/front:1"
    job = wait_job(accepted_job(post(client, "/api/v1/images/lookups", {"image": image})), timeout=60)
    assert job.status == "failed" and job.attempts == 3
    assert job.last_error["code"] == "registry_unavailable" and job.last_error["retryable"] is True
    retries = job.events.filter(type="transition", from_status="running", to_status="queued")
    assert retries.count() == 2


def test_metadata_jobs_do_not_delay_deploys(client, marathon_sim, marathon_sim_server, private_redis,
                                            isolated_celery, tmp_path, make_app, shop_image):
    """With a worker consuming only the deploy queue, deploys finish while metadata jobs stay queued."""
    deploy_worker = start_worker(str(tmp_path), marathon_sim_server.url, queues="deploy",
                                 REDIS_URL=private_redis.url)
    try:
        lookups = [accepted_job(post(client, "/api/v1/images/lookups", {"image": shop_image})) for _ in range(5)]
        _, config = make_app()
        deploy = wait_job(accepted_job(post(client, f"/api/v1/marathon-configs/{config.pk}/deploy")))
        assert deploy.status == "succeeded", deploy.last_error
        assert {job.status for job in Job.objects.filter(pk__in=lookups)} == {"queued"}
        assert private_redis.client().llen("metadata") == len(lookups)
    finally:
        deploy_worker.stop()
