"""The pages in a real headless Chromium (Debian's, driven by Playwright), against a live server, a real Celery
worker and the Marathon simulator: search, open an app, deploy, follow the job live, open what runs, stop it."""
import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from shared.models import App, Deployment, DockerContainer, Job, MarathonConfig

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "browser"
PASSWORD = "a long enough password"
JOB_TIMEOUT_MS = 45_000

CATALOG = [
    ("jupyter-notebook", "jupyter/base-notebook:2024-05", [8888],
     "Interactive notebooks for Python, R and Julia in the browser."),
    ("rstudio-server", "rocker/rstudio:4.4", [8787], "RStudio in the browser, with the tidyverse preinstalled."),
    ("nginx-static", "nginx:1.27", [80], "A static web server for sharing result pages."),
    ("galaxy", "bgruening/galaxy-stable:24.0", [80, 443], "A workflow platform for data-intensive research."),
    ("cellxgene", "ghcr.io/chanzuckerberg/cellxgene:1.3", [5005], "Explore single-cell transcriptomics data."),
    ("code-server", "codercom/code-server:4.90", [8080], "Visual Studio Code in the browser."),
]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API keeps an event loop in this thread; the tests' own database calls are still
    # synchronous ones, which Django allows only when told so (as its documentation says for Playwright).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    if getattr(request.node, "rep_failed", False):
        shot(page, f"FAILED-{request.node.name}")
    context.close()


def shot(page, name, *, full_page=True):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture
def catalog(db):
    apps = {}
    for name, image, ports, description in CATALOG:
        app = App.objects.create(name=name, description=description, vcs_url=f"https://github.com/example/{name}",
                                 image_labels={"org.opencontainers.image.title": name.replace("-", " ").title(),
                                               "org.opencontainers.image.licenses": "BSD-3-Clause"},
                                 fields_from_labels=["description"])
        DockerContainer.objects.create(app=app, image=image, ports=ports)
        MarathonConfig.objects.create(app=app, cpu=Decimal("0.5"), memory=512, instances=1)
        apps[name] = app
    return apps


@pytest.fixture
def signed_in_page(page, live_server):
    get_user_model().objects.create_superuser("grace", "grace@example.org", PASSWORD)
    page.goto(f"{live_server.url}/catalog/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.locator(".account .who")).to_have_text("grace")
    return page


def follow_job_without_reload(page, status="succeeded", *, passing=()):
    """Wait on the job page until it shows `status` (after the `passing` ones), proving the page was never
    reloaded meanwhile."""
    page.evaluate("window.__sameDocument = true")
    for step in passing:
        sync_api.expect(page.locator("#job-summary [data-job-status]")).to_have_attribute(
            "data-job-status", step, timeout=JOB_TIMEOUT_MS)
    sync_api.expect(page.locator("#job-summary [data-job-status]")).to_have_attribute(
        "data-job-status", status, timeout=JOB_TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument === true"), "the job page was reloaded"
    sync_api.expect(page.locator("#live-note")).to_have_text(f"The job has ended: {status}.")


def test_search_deploy_follow_open_and_stop(signed_in_page, live_server, catalog, marathon_sim, celery_worker):
    page = signed_in_page
    base = live_server.url
    page.goto(f"{base}/catalog/")
    sync_api.expect(page.locator(".card")).to_have_count(len(CATALOG))
    shot(page, "01-catalog")

    # Search the catalog
    page.get_by_label("Search", exact=True).fill("notebook")
    page.get_by_label("Search", exact=True).press("Enter")
    sync_api.expect(page.locator(".card")).to_have_count(1)
    sync_api.expect(page.locator(".card h2")).to_have_text("jupyter-notebook")
    shot(page, "02-search")

    # Open the app
    page.get_by_role("link", name="jupyter-notebook").click()
    sync_api.expect(page.get_by_role("heading", level=1)).to_have_text("jupyter-notebook")
    sync_api.expect(page.get_by_role("link", name="https://github.com/example/jupyter-notebook")).to_be_visible()
    sync_api.expect(page.locator("dl.details").first).to_contain_text("BSD-3-Clause")
    shot(page, "03-app")

    # Deploy, and watch the job reach succeeded without reloading: Marathon is slowed down so that the page
    # shows the job while Marathon deploys, then moves on by itself.
    marathon_sim.set_step_seconds(1.0)
    page.get_by_role("button", name="Deploy").click()
    page.wait_for_url(f"{base}/catalog/jobs/*")
    sync_api.expect(page.locator("#timeline")).to_have_attribute("data-terminal", "false")
    follow_job_without_reload(page, passing=["waiting"])
    follow_job_without_reload(page)
    marathon_sim.set_step_seconds(0.1)
    sync_api.expect(page.locator("#timeline")).to_contain_text("Marathon accepted")
    sync_api.expect(page.locator("#timeline")).to_contain_text("waiting → succeeded")
    job = Job.objects.get(kind="deploy")
    assert job.status == "succeeded" and job.requested_by.username == "grace"
    shot(page, "04-job-succeeded")

    # Open the running app's deployment page: tasks, health, its address in a new tab and in a frame
    page.get_by_role("link", name="See what runs").click()
    sync_api.expect(page.locator("[data-deployment-status]")).to_have_text("running")
    deployment = Deployment.objects.get(marathon_app_id=job.marathon_app_id)
    assert deployment.public_url
    new_tab = page.locator("[data-open-new-tab]")
    sync_api.expect(new_tab).to_have_attribute("href", deployment.public_url)
    sync_api.expect(new_tab).to_have_attribute("target", "_blank")
    with page.context.expect_page() as opened:
        new_tab.click()
    opened.value.close()
    sync_api.expect(page.locator("table")).to_contain_text("TASK_RUNNING")
    shot(page, "05-deployment")
    page.locator("[data-open-frame]").click()
    sync_api.expect(page.locator("iframe.app-frame")).to_have_attribute("src", deployment.public_url)
    page.go_back()
    # the catalog now shows it running
    page.goto(f"{base}/catalog/")
    sync_api.expect(page.locator(".card", has_text="jupyter-notebook").locator(".state")).to_have_text("running")
    shot(page, "05-catalog-running")
    page.go_back()

    # Stop it
    page.get_by_role("button", name="Stop").click()
    page.wait_for_url(f"{base}/catalog/jobs/*")
    follow_job_without_reload(page)
    assert marathon_sim.get(f"/v2/apps{job.marathon_app_id}").status_code == 404
    page.get_by_role("link", name="See what runs").click()
    sync_api.expect(page.locator("[data-deployment-status]")).to_have_text("stopped")
    shot(page, "06-stopped")


def test_a_failing_deploy_explains_itself_in_plain_words(signed_in_page, live_server, catalog, marathon_sim,
                                                          celery_worker):
    page = signed_in_page
    marathon_sim.fail_next(1, 422, path_prefix="/v2/apps",
                           body={"message": "Object is not valid",
                                 "details": [{"path": "/container/docker/image", "errors": ["error.required"]}]})
    page.goto(f"{live_server.url}/catalog/apps/galaxy")
    page.get_by_role("button", name="Deploy").click()
    follow_job_without_reload(page, "failed")
    problem = page.locator(".problem")
    sync_api.expect(problem).to_contain_text("Marathon refused the app definition")
    sync_api.expect(problem).to_contain_text("Object is not valid")
    sync_api.expect(problem).to_contain_text("error.required")
    shot(page, "07-job-failed")


def test_bad_form_input_shows_its_error_next_to_the_field(signed_in_page, live_server, catalog):
    page = signed_in_page
    page.goto(f"{live_server.url}/catalog/apps/nginx-static")
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Name").fill("Not A Valid Name")
    page.get_by_label("Ports").fill("80, web")
    page.get_by_role("button", name="Save").click()
    name_errors = page.locator("#id_name_errors")
    sync_api.expect(name_errors).to_contain_text("Use only lower-case letters")
    sync_api.expect(page.locator("#id_ports_errors")).to_contain_text("'web' is not a port number")
    # the error sits inside the same field block as its control, right below it
    assert page.locator(".field.has-error", has=page.locator("#id_name")).locator("#id_name_errors").count() == 1
    sync_api.expect(page.get_by_label("Name")).to_have_value("Not A Valid Name")
    assert App.objects.filter(name="nginx-static").exists()
    shot(page, "08-edit-errors")

    # a scale with a negative count, on the app page
    page.goto(f"{live_server.url}/catalog/apps/nginx-static")
    config = catalog["nginx-static"].marathon_configs.get()
    page.locator(f"#id_c{config.pk}-instances").fill("-2")
    page.get_by_role("button", name="Scale").click()
    sync_api.expect(page.locator(f"#id_c{config.pk}-instances_errors")).to_contain_text("greater than or equal to 0")
    assert not Job.objects.exists()

    # an import of a malformed image reference
    page.get_by_role("link", name="Import").click()
    page.get_by_label("Docker image").fill("Bad Image::")
    page.get_by_role("button", name="Import").click()
    sync_api.expect(page.locator("#id_image_errors")).to_be_visible()
    assert not Job.objects.exists()


def test_keyboard_and_phone_width(page, live_server, catalog):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/catalog/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    # every control has a label
    unlabelled = page.evaluate("""[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(el => !el.labels || el.labels.length === 0).map(el => el.name)""")
    assert unlabelled == []
    # nothing is wider than a phone screen
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shot(page, "09-catalog-phone")
    page.get_by_role("link", name="jupyter-notebook").click()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shot(page, "10-app-phone")


def test_anonymous_visitors_are_asked_to_sign_in_before_deploying(page, live_server, catalog):
    page.goto(f"{live_server.url}/catalog/apps/cellxgene")
    assert page.get_by_role("button", name="Deploy").count() == 0
    page.get_by_role("link", name="Sign in", exact=True).last.click()
    sync_api.expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/catalog/apps/cellxgene")
