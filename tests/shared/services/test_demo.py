"""The demo catalog: the ancestor's example apps, loaded once however often the loader runs."""
import pytest
from django.core.management import call_command

from shared.models import App, MarathonConfig
from shared.services.demo import DEMO_APPS, demo_catalog_load

pytestmark = pytest.mark.django_db


def test_demo_catalog_loads_the_example_apps_once():
    created = demo_catalog_load()
    assert created == [app["name"] for app in DEMO_APPS]
    assert demo_catalog_load() == []
    assert App.objects.count() == len(DEMO_APPS)
    assert MarathonConfig.objects.count() == len(DEMO_APPS)  # one configuration each


def test_demo_catalog_holds_the_expected_apps():
    demo_catalog_load()
    ports = {app.name: (app.docker_container.ports if hasattr(app, "docker_container") else None)
             for app in App.objects.select_related("docker_container")}
    assert ports["nginx-test"] == [80] and ports["keycloak-demo"] == [5000]
    assert ports["angular-demo"] == [8080] and ports["webgl-demo"] == [80] and ports["jupyter-demo"] == [8889]
    command_only = App.objects.get(name="python-http-server")
    assert command_only.command == "python -m http.server $PORT0" and ports["python-http-server"] is None


def test_demo_catalog_leaves_edited_apps_alone():
    demo_catalog_load()
    App.objects.filter(name="nginx-test").update(description="mine")
    App.objects.filter(name="webgl-demo").delete()
    assert demo_catalog_load() == ["webgl-demo"]
    assert App.objects.get(name="nginx-test").description == "mine"


def test_the_management_command(capsys):
    call_command("load_demo_catalog")
    call_command("load_demo_catalog")
    out = capsys.readouterr().out
    assert f"{len(DEMO_APPS)} app(s) created" in out and f"0 app(s) created, {len(DEMO_APPS)} already" in out
