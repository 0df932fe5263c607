"""Catalog services and selectors: all-or-nothing writes, the configuration list rule, races on names."""
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings

from shared.errors import Conflict, NotFound, ValidationFailed
from shared.models import App, AuditEntry, DockerContainer, MarathonConfig, WebhookDelivery
from shared.selectors.catalog import app_get, app_list, config_get, container_get
from shared.services.catalog import (
    app_create,
    app_delete,
    app_update,
    container_update,
    marathon_config_create,
    marathon_config_delete,
    marathon_config_update,
)
from shared.services.webhooks import webhook_subscription_create


def nginx(name="nginx-test", **changes):
    data = {"name": name, "description": "simple nginx container",
            "docker_container": {"image": "nginx", "ports": [80]},
            "marathon_configs": [{"cpu": "1", "memory": 64}]}
    data.update(changes)
    return data


@pytest.mark.django_db
def test_app_create_writes_app_container_and_configs():
    app = app_create(**nginx(marathon_configs=[{"cpu": "0.5", "memory": 64, "args": "a 'b c'"},
                                               {"cpu": 2, "memory": 128, "instances": 0}]))
    assert app.docker_container.image == "nginx"
    configs = list(app.marathon_configs.all())
    assert [c.cpu for c in configs] == [Decimal("0.5"), Decimal("2")]
    assert configs[0].args == ["a", "b c"] and configs[0].instances == 1 and configs[1].instances == 0
    assert MarathonConfig.objects.filter(app=app).count() == 2


@pytest.mark.django_db
def test_app_create_validates_like_the_api_and_writes_nothing():
    with pytest.raises(ValidationFailed) as caught:
        app_create(**nginx(name="Bad_Name", docker_container={"image": "a//b", "ports": [0]},
                           marathon_configs=[{"cpu": 0, "memory": 31}, {"memory": 64}]))
    assert set(caught.value.errors) == {
        "name", "docker_container.image", "docker_container.ports", "marathon_configs[0].cpu",
        "marathon_configs[0].memory", "marathon_configs[1].cpu",
    }
    assert not App.objects.exists() and not MarathonConfig.objects.exists()


@pytest.mark.django_db
def test_duplicate_name_is_a_conflict_naming_the_field():
    app_create(**nginx())
    with pytest.raises(Conflict) as caught:
        app_create(**nginx())
    assert caught.value.code == "duplicate_name" and "name" in caught.value.errors
    assert App.objects.count() == 1 and DockerContainer.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_name_give_one_app_and_one_conflict():
    barrier = threading.Barrier(4)
    outcomes = []

    def create():
        try:
            barrier.wait()
            app_create(**nginx(name="racy"))
            outcomes.append("created")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] + ["duplicate_name"] * 3
    assert App.objects.filter(name="racy").count() == 1
    assert MarathonConfig.objects.count() == 1 and DockerContainer.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_create_outside_a_transaction_writes_the_whole_family_or_nothing(isolated_celery):
    """With no subscriber to app.created the create is one autocommitted statement: all rows or none."""
    assert not connection.in_atomic_block
    app = app_create(**nginx(name="alone"))
    assert App.objects.filter(pk=app.pk).exists() and DockerContainer.objects.filter(app=app).count() == 1
    assert MarathonConfig.objects.filter(app=app).count() == 1
    assert AuditEntry.objects.filter(action="app.created", target_id=str(app.pk)).count() == 1
    with pytest.raises(Conflict):
        app_create(**nginx(name="alone", marathon_configs=[{"cpu": 1, "memory": 64}] * 3))
    assert (App.objects.count(), DockerContainer.objects.count(), MarathonConfig.objects.count(),
            AuditEntry.objects.count(), WebhookDelivery.objects.count()) == (1, 1, 1, 1, 0)


@pytest.mark.django_db(transaction=True)
def test_create_outside_a_transaction_commits_the_event_with_the_app(isolated_celery):
    # isolated_celery: the deliveries' tasks go to a private broker, not to a worker another test left running.
    with override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True):
        every, _ = webhook_subscription_create(data={"url": "http://127.0.0.1:9/all", "event_types": ["app.created"]})
        other = app_create(**nginx(name="other"))
        webhook_subscription_create(data={"url": "http://127.0.0.1:9/one", "event_types": ["app.created"],
                                          "app": other.pk})
    app = app_create(**nginx(name="hooked"))
    with pytest.raises(Conflict):
        app_create(**nginx(name="hooked"))
    sent = list(WebhookDelivery.objects.order_by("created_at").values_list("url", "payload"))
    assert [url for url, _ in sent] == ["http://127.0.0.1:9/all", "http://127.0.0.1:9/all"]
    assert [payload["data"]["name"] for _, payload in sent] == ["other", "hooked"]
    assert sent[1][1]["data"]["id"] == app.pk and sent[1][1]["data"]["docker_container"]["image"] == "nginx"
    assert every.deliveries.count() == 2


@pytest.mark.django_db
def test_update_config_list_keeps_updates_creates_and_deletes():
    app = app_create(**nginx(marathon_configs=[{"cpu": 1, "memory": 64}, {"cpu": 1, "memory": 128}]))
    keep, drop = [c.pk for c in app.marathon_configs.all()]
    app = app_update(app, data={"name": "nginx-test", "marathon_configs": [
        {"cpu": 3, "memory": 256}, {"id": keep, "cpu": Decimal("0.125"), "memory": 64, "env_vars": {"A": "b"}}]})
    configs = {c.pk: c for c in MarathonConfig.objects.filter(app=app)}
    assert keep in configs and drop not in configs and len(configs) == 2
    assert configs[keep].cpu == Decimal("0.125") and configs[keep].env_vars == {"A": "b"}
    assert [c.pk for c in app.marathon_configs.all()] == sorted(configs)


@pytest.mark.django_db
def test_update_rejects_unknown_config_ids_and_writes_nothing():
    app = app_create(**nginx())
    other = app_create(**nginx(name="other"))
    foreign = other.marathon_configs.all()[0].pk
    before = list(MarathonConfig.objects.order_by("pk").values())
    with pytest.raises(ValidationFailed) as caught:
        app_update(app, data={"description": "changed", "marathon_configs": [
            {"cpu": 1, "memory": 64}, {"id": foreign, "cpu": 1, "memory": 64}]}, partial=True)
    assert set(caught.value.errors) == {"marathon_configs[1].id"}
    assert list(MarathonConfig.objects.order_by("pk").values()) == before
    assert App.objects.get(pk=app.pk).description == "simple nginx container"


@pytest.mark.django_db
def test_update_adds_replaces_and_removes_the_container():
    app = app_create(name="cmd", command="sleep 1", marathon_configs=[])
    with pytest.raises(ValidationFailed) as caught:
        app_update(app, data={"docker_container": {"ports": [80]}}, partial=True)
    assert set(caught.value.errors) == {"docker_container.image"}
    app = app_update(app, data={"docker_container": {"image": "httpd", "ports": [80]}}, partial=True)
    assert app.docker_container.image == "httpd"
    app = app_update(app, data={"docker_container": {"ports": [81]}}, partial=True)
    assert DockerContainer.objects.get(app=app).ports == [81]
    app = app_update(app, data={"docker_container": None}, partial=True)
    assert not DockerContainer.objects.exists()


@pytest.mark.django_db
def test_update_to_a_taken_name_is_a_conflict_and_rolls_back():
    app_create(**nginx())
    other = app_create(**nginx(name="other"))
    with pytest.raises(Conflict):
        app_update(other, data={"name": "nginx-test", "marathon_configs": []}, partial=True)
    assert MarathonConfig.objects.filter(app=other).count() == 1
    assert App.objects.get(pk=other.pk).name == "other"


@pytest.mark.django_db
def test_config_and_container_services():
    app = app_create(**nginx())
    config = marathon_config_create(app, data={"cpu": "0.5", "memory": 128})
    assert config.app_id == app.pk and config.instances == 1
    config = marathon_config_update(config, data={"instances": 4}, partial=True)
    assert MarathonConfig.objects.get(pk=config.pk).instances == 4
    config = marathon_config_update(config, data={"cpu": 1, "memory": 64})
    assert MarathonConfig.objects.get(pk=config.pk).instances == 1
    with pytest.raises(ValidationFailed) as caught:
        marathon_config_update(config, data={"memory": 31}, partial=True)
    assert set(caught.value.errors) == {"memory"}
    marathon_config_delete(config)
    assert not MarathonConfig.objects.filter(pk=config.pk).exists()
    container = container_update(app.docker_container, data={"image": "nginx:1.27"})
    assert DockerContainer.objects.get(pk=container.pk).ports == []
    with pytest.raises(ValidationFailed):
        container_update(container, data={"image": "UPPER/case"}, partial=True)


@pytest.mark.django_db
def test_app_delete_cascades():
    app = app_create(**nginx())
    app_delete(app)
    assert not App.objects.exists() and not DockerContainer.objects.exists()
    assert not MarathonConfig.objects.exists()


@pytest.mark.django_db
def test_selectors_find_by_id_or_name_and_raise_not_found():
    app = app_create(**nginx(name="web1"))
    assert app_get(str(app.pk)).pk == app.pk and app_get("web1").pk == app.pk
    for ref in ("99999", "nope", "9" * 30, "-1", "x" * 80):
        with pytest.raises(NotFound):
            app_get(ref)
    assert config_get(str(app.marathon_configs.all()[0].pk)).app_id == app.pk
    assert container_get(app.docker_container.pk).app_id == app.pk
    for getter in (config_get, container_get):
        with pytest.raises(NotFound):
            getter("abc")


@pytest.mark.django_db
def test_app_list_filters_and_orders():
    app_create(**nginx(name="b-maps", description="x"))
    app_create(**nginx(name="a", description="MAPS", docker_container={"image": "nginx:1.27"}))
    app_create(name="c", command="sleep 1")
    assert [a.name for a in app_list(search="maps")] == ["a", "b-maps"]
    assert [a.name for a in app_list(image="nginx:1.27")] == ["a"]
    assert [a.name for a in app_list(ordering="-name")] == ["c", "b-maps", "a"]
    with pytest.raises(ValidationFailed) as caught:
        app_list(ordering="secret")
    assert "ordering" in caught.value.errors
