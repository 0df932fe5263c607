"""The catalog pages: listing with search, filters and pages, app details, the edit form, import."""
import html as html_lib
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from shared.models import App, Deployment, DockerContainer, Job, MarathonConfig

pytestmark = pytest.mark.django_db


def field_errors(html, field):
    """The error list shown right after the control named `field`, as text ('' when none)."""
    match = re.search(rf'<ul class="errors" id="id_{re.escape(field)}_errors"[^>]*>(.*?)</ul>', html, re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).strip() if match else ""


def deployment(app, config, status="running", **fields):
    return Deployment.objects.create(app=app, config=config, marathon_app_id=f"/maracker/{app.name}/{config.pk}",
                                     status=status, public_url=f"http://{app.name}-{config.pk}.apps.localhost",
                                     **fields)


def test_root_leads_to_the_catalog(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/catalog/"


def test_anonymous_visitors_browse_cards_with_name_description_image_ports_and_state(client, make_app):
    app, config = make_app("web-server", image="nginx:1.27", ports=(80, 443))
    deployment(app, config)
    make_app("idle-app", image="redis")
    response = client.get("/catalog/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "web-server" in html and "test app" in html and "nginx:1.27" in html and "80, 443" in html
    assert 'class="state state-running"' in html and "not deployed" in html
    assert "2 apps" in html


def test_search_and_filters_narrow_the_list(client, make_app):
    running, config = make_app("jupyter-lab", image="jupyter/base:1")
    deployment(running, config)
    stopped, config2 = make_app("jupyter-old", image="jupyter/base:0")
    deployment(stopped, config2, status="stopped")
    make_app("nginx-a", image="nginx:1.27")

    def names(**query):
        html = client.get("/catalog/", query).content.decode()
        return sorted(set(re.findall(r'href="/catalog/apps/([a-z0-9-]+)"', html)))

    assert names(q="jupyter") == ["jupyter-lab", "jupyter-old"]
    assert names(image="nginx") == ["nginx-a"]
    assert names(deployed="live") == ["jupyter-lab"]
    assert names(deployed="idle") == ["jupyter-old", "nginx-a"]
    assert names(q="jupyter", deployed="idle") == ["jupyter-old"]


def test_bad_filters_answer_400_with_the_error_next_to_the_field(client):
    response = client.get("/catalog/", {"deployed": "sideways", "per_page": "7"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "sideways is not one of the available choices" in field_errors(html, "deployed")
    assert "7 is not one of the available choices" in field_errors(html, "per_page")


def _many_apps(count, *, with_deployments=False):
    apps = App.objects.bulk_create([App(name=f"app-{i:05d}", description=f"number {i}") for i in range(count)])
    DockerContainer.objects.bulk_create([DockerContainer(app=app, image=f"repo/img-{i % 7}:1", ports=[8000 + i % 5])
                                         for i, app in enumerate(apps)])
    configs = MarathonConfig.objects.bulk_create([MarathonConfig(app=app, cpu="0.1", memory=64) for app in apps])
    if with_deployments:
        Deployment.objects.bulk_create([
            Deployment(app=app, config=config, marathon_app_id=f"/maracker/{app.name}/{config.pk}",
                       status="running" if i % 2 else "stopped")
            for i, (app, config) in enumerate(zip(apps, configs))])
    return apps


def test_the_listings_query_count_does_not_grow_with_the_page_size(client):
    _many_apps(200, with_deployments=True)
    counts = {}
    for size in (12, 96):
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/catalog/", {"per_page": size, "page": 2, "q": "app"})
        assert response.status_code == 200
        assert response.content.decode().count('class="card"') == size
        counts[size] = len(queries)
    assert counts[12] == counts[96] <= 6, counts


def test_ten_thousand_apps_are_paginated(client):
    _many_apps(10_000)
    response = client.get("/catalog/", {"page": 500, "per_page": 12})
    html = response.content.decode()
    assert response.status_code == 200
    assert "10000 apps" in html and "page 500 of 834" in html
    assert html.count('class="card"') == 12 and 'rel="next"' in html and 'rel="prev"' in html
    last = client.get("/catalog/", {"page": 105, "per_page": 96}).content.decode()
    assert "app-09999" in last and 'rel="next"' not in last
    # an out-of-range or nonsense page shows the nearest page, never an error
    assert client.get("/catalog/", {"page": "99999"}).status_code == 200
    assert client.get("/catalog/", {"page": "x"}).status_code == 200


def test_app_detail_shows_label_metadata_configurations_and_the_repository(client, make_app):
    app, config = make_app("labelled", image="ghcr.io/org/labelled:2", ports=(8888,))
    App.objects.filter(pk=app.pk).update(
        vcs_url="https://github.com/org/labelled", description="From the image",
        image_labels={"org.opencontainers.image.title": "Labelled", "org.opencontainers.image.licenses": "MIT",
                      "org.label-schema.usage": "Open port 8888"},
        fields_from_labels=["description"])
    deployment(app, config)
    for ref in ("labelled", str(app.pk)):
        response = client.get(f"/catalog/apps/{ref}")
        assert response.status_code == 200
    html = response.content.decode()
    assert 'href="https://github.com/org/labelled"' in html
    assert "Licences" in html and "MIT" in html and "Open port 8888" in html and "from image" in html
    assert f"Configuration {config.pk}" in html and "64 MiB" in html
    assert "org.opencontainers.image.title" in html  # the full label table
    # anonymous visitors see no buttons, only an invitation to sign in
    assert f"/catalog/configs/{config.pk}/" not in html and "Sign in</a> to deploy" in html


def test_signed_in_users_see_the_action_buttons(signed_in, make_app):
    app, config = make_app("buttons")
    html = signed_in.get("/catalog/apps/buttons").content.decode()
    for action in ("deploy", "stop", "restart", "scale"):
        assert f'action="/catalog/configs/{config.pk}/{action}"' in html
    assert "csrfmiddlewaretoken" in html and 'href="/catalog/apps/buttons/edit"' in html
    assert 'for="id_c%d-instances"' % config.pk in html


def test_unknown_apps_are_html_404s(client):
    for ref in ("nope", "999999", "9" * 30):
        response = client.get(f"/catalog/apps/{ref}")
        assert response.status_code == 404
        assert not response["Content-Type"].startswith("application/problem+json")


def test_editing_needs_a_signed_in_user(client, make_app):
    make_app("locked")
    for method in ("get", "post"):
        response = getattr(client, method)("/catalog/apps/locked/edit")
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/catalog/apps/locked/edit"
    assert App.objects.get(name="locked").description == "test app"


def test_edit_form_saves_through_the_catalog_service(signed_in, make_app):
    app, _ = make_app("editable", image="nginx", ports=(80,))
    page = signed_in.get("/catalog/apps/editable/edit")
    assert page.status_code == 200 and 'value="editable"' in page.content.decode()
    response = signed_in.post("/catalog/apps/editable/edit", {
        "name": "edited", "description": "Now described", "image": "nginx:1.27", "ports": "80, 8080",
        "command": "", "vcs_url": "https://example.org/repo"})
    assert response.status_code == 302 and response["Location"] == "/catalog/apps/edited"
    app.refresh_from_db()
    assert (app.name, app.description, app.vcs_url) == ("edited", "Now described", "https://example.org/repo")
    assert (app.docker_container.image, app.docker_container.ports) == ("nginx:1.27", [80, 8080])


@pytest.mark.parametrize("changes, field, message", [
    ({"name": "Bad Name!"}, "name", "Use only lower-case letters"),
    ({"name": "taken"}, "name", "already exists"),
    ({"ports": "80, http"}, "ports", "'http' is not a port number"),
    ({"ports": "70000"}, "ports", "out of range"),
    ({"image": "UPPER/case::"}, "image", ""),
    ({"vcs_url": "not a url"}, "vcs_url", ""),
])
def test_bad_edits_show_the_error_next_to_the_field_and_change_nothing(signed_in, make_app, changes, field,
                                                                       message):
    make_app("taken")
    make_app("kept", image="nginx", ports=(80,))
    body = {"name": "kept", "description": "changed", "image": "nginx", "ports": "80", "command": "", "vcs_url": ""}
    response = signed_in.post("/catalog/apps/kept/edit", {**body, **changes})
    assert response.status_code == 400
    errors = field_errors(response.content.decode(), field)
    assert errors and message in errors, errors
    assert App.objects.get(name="kept").description == "test app"


def test_forms_refuse_posts_without_the_csrf_token(user, make_app):
    make_app("guarded")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/catalog/apps/guarded/edit", {"name": "changed"})
    assert response.status_code == 403
    assert App.objects.filter(name="guarded").exists()
    response = client.post("/catalog/import", {"image": "nginx:1.27"})
    assert response.status_code == 403 and not Job.objects.exists()


def test_import_needs_a_signed_in_user(client):
    response = client.post("/catalog/import", {"image": "nginx:1.27"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Job.objects.exists()


def test_import_creates_an_app_import_job_and_leads_to_its_page(signed_in, user):
    assert signed_in.get("/catalog/import").status_code == 200
    response = signed_in.post("/catalog/import", {"image": "ghcr.io/org/tool:1.0", "name": "my-tool"})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/catalog/jobs/{job.pk}"
    assert job.kind == "app_import" and job.params["name"] == "my-tool" and job.requested_by == user


@pytest.mark.parametrize("body, field, message", [
    ({"image": ""}, "image", "This field is required."),
    ({"image": "Not A Reference::"}, "image", ""),
    ({"image": "nginx", "name": "Bad Name"}, "name", "lower-case"),
])
def test_bad_imports_show_the_error_next_to_the_field(signed_in, body, field, message):
    response = signed_in.post("/catalog/import", body)
    assert response.status_code == 400
    errors = field_errors(response.content.decode(), field)
    assert errors and message in errors, errors
    assert not Job.objects.exists()


def test_static_assets_are_served_by_the_app(client):
    for path in ("/static/catalog/catalog.css", "/static/catalog/job.js", "/static/catalog/icon.svg"):
        response = client.get(path)
        assert response.status_code == 200, path
    html = client.get("/catalog/").content.decode()
    assert "http://" not in re.sub(r'href="http[^"]*"', "", html.split("<main")[0])  # no CDN in the head


def test_a_private_catalog_sends_anonymous_visitors_to_sign_in(client, settings):
    from django.contrib.auth import get_user_model
    from django.test import Client

    settings.PUBLIC_CATALOG = False
    for path in ("/catalog/", "/catalog/deployments/"):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    reader = Client()
    reader.force_login(get_user_model().objects.create_user("reader", password="x" * 12))
    assert reader.get("/catalog/").status_code == 200
