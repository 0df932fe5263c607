"""The deployment pages: what runs, its health and tasks, its address, opening it in a tab or a frame."""
import pytest
from django.test import Client

from shared.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(make_app):
    app, config = make_app("served")
    return Deployment.objects.create(
        app=app, config=config, marathon_app_id=f"/maracker/served/{config.pk}", status="running", instances=2,
        tasks_running=2, tasks_healthy=1, tasks_unhealthy=1, public_url=f"http://served-{config.pk}.apps.localhost",
        tasks={"t1": {"id": "t1", "state": "TASK_RUNNING", "healthy": True, "endpoints": ["10.0.0.1:31000"]},
               "t2": {"id": "t2", "state": "TASK_RUNNING", "healthy": False, "endpoints": ["10.0.0.2:31001"]}})


def test_the_list_shows_what_runs_with_health_and_open_links(client, running):
    response = client.get("/catalog/deployments/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "served" in html and "2 of 2 running" in html and "1 unhealthy" in html
    assert f'href="{running.public_url}" target="_blank" rel="noopener noreferrer"' in html
    assert f'href="/catalog/deployments/{running.pk}/frame"' in html
    assert "Nothing is stopped" in client.get("/catalog/deployments/", {"status": "stopped"}).content.decode()
    assert client.get("/catalog/deployments/", {"status": "bogus"}).status_code == 200


def test_the_detail_shows_tasks_and_buttons_for_signed_in_users(signed_in, running):
    html = Client().get(f"/catalog/deployments/{running.pk}").content.decode()
    assert "10.0.0.1:31000" in html and "TASK_RUNNING" in html and "1 healthy, 1 unhealthy" in html
    assert "data-open-new-tab" in html and "data-open-frame" in html
    assert "/stop" not in html
    html = signed_in.get(f"/catalog/deployments/{running.pk}").content.decode()
    assert f'action="/catalog/configs/{running.config_id}/stop"' in html


def test_the_frame_view_embeds_the_public_address(client, running):
    html = client.get(f"/catalog/deployments/{running.pk}/frame").content.decode()
    assert f'<iframe class="app-frame" src="{running.public_url}"' in html


def test_unknown_deployments_are_404(client):
    assert client.get("/catalog/deployments/999999").status_code == 404
    assert client.get("/catalog/deployments/999999/frame").status_code == 404
