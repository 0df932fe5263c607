"""Catalog pages: the searchable list of apps, an app's details, its edit form and import from an image."""
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from api.pages.forms import AppEditForm, CatalogFilterForm, ImportForm, ScaleForm, add_service_errors
from api.pages.permissions import can_change, change_required, ensure_can_change
from shared.errors import DomainError, NotFound, ValidationFailed
from shared.selectors.catalog import app_get
from shared.selectors.catalog_browse import (
    app_browse,
    app_deployment_state,
    app_recent_jobs,
    app_with_deployments,
)
from shared.services.catalog import app_update
from shared.services.image_metadata import app_import_create

# Labels shown first on the detail page, in this order, when the image has them.
KNOWN_LABELS = (
    ("org.opencontainers.image.title", "Title"),
    ("org.opencontainers.image.version", "Version"),
    ("org.opencontainers.image.authors", "Authors"),
    ("org.opencontainers.image.licenses", "Licences"),
    ("org.opencontainers.image.url", "Home page"),
    ("org.opencontainers.image.documentation", "Documentation"),
    ("org.opencontainers.image.source", "Source"),
    ("org.label-schema.usage", "Usage"),
    ("org.label-schema.url", "Home page"),
)


def _app_or_404(ref):
    try:
        return app_get(ref)
    except NotFound as exc:
        raise Http404(exc.message) from None


def catalog_index(request):
    form = CatalogFilterForm(request.GET or None)
    filters = {"q": "", "image": "", "deployed": "", "per_page": CatalogFilterForm.base_fields["per_page"].empty_value}
    if form.is_bound and form.is_valid():
        filters.update({key: value for key, value in form.cleaned_data.items() if value not in (None, "")})
    status = 200
    try:
        apps = app_browse(search=filters["q"], image=filters["image"], deployed=filters["deployed"])
    except ValidationFailed as exc:
        add_service_errors(form, exc, {"search": "q"})
        apps, status = app_browse(search="", image="", deployed="").none(), 400
    if form.is_bound and form.errors:
        status = 400
    page = Paginator(apps, filters["per_page"]).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    cards = [{"app": app, "state": app_deployment_state(app)} for app in page.object_list]
    return render(request, "catalog/index.html", {
        "form": form, "page": page, "cards": cards, "query": query.urlencode(),
        "filtered": any(filters[key] for key in ("q", "image", "deployed")),
    }, status=status)


def app_detail_context(request, app, *, edit_form=None, scale_forms=None):
    app = app_with_deployments(app)
    labels = app.image_labels or {}
    known = [(title, labels[key]) for key, title in KNOWN_LABELS if labels.get(key)]
    configs = [{"config": config, "deployment": getattr(config, "deployment", None),
                "scale_form": (scale_forms or {}).get(config.pk)
                or ScaleForm(initial={"instances": config.instances}, prefix=f"c{config.pk}")}
               for config in app.marathon_configs.all()]
    vcs = app.vcs_url if app.vcs_url.startswith(("http://", "https://")) else ""
    return {"app": app, "container": getattr(app, "docker_container", None), "configs": configs,
            "known_labels": known, "labels": sorted(labels.items()), "from_labels": set(app.fields_from_labels or ()),
            "vcs_link": vcs, "jobs": app_recent_jobs(app), "state": app_deployment_state(app),
            "can_change": can_change(request.user, app)}


def app_detail(request, ref):
    app = _app_or_404(ref)
    return render(request, "catalog/app_detail.html", app_detail_context(request, app))


@change_required
@require_http_methods(["GET", "POST"])
def app_edit(request, ref):
    app = _app_or_404(ref)
    ensure_can_change(request.user, app)
    if request.method == "POST":
        form = AppEditForm(request.POST)
        if form.is_valid():
            try:
                app = app_update(app, data=form.service_data(app), partial=True, actor=request.user)
            except DomainError as exc:
                add_service_errors(form, exc, AppEditForm.SERVICE_FIELDS)
            else:
                return redirect(reverse("catalog:app-detail", args=[app.name]))
    else:
        form = AppEditForm(initial=AppEditForm.initial_for(app))
    return render(request, "catalog/app_edit.html", {"app": app, "form": form},
                  status=400 if form.is_bound else 200)


@change_required
@require_http_methods(["GET", "POST"])
def app_import(request):
    ensure_can_change(request.user)
    form = ImportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            job, _ = app_import_create(image=form.cleaned_data["image"], name=form.cleaned_data["name"] or None,
                                       requested_by=request.user)
        except DomainError as exc:
            add_service_errors(form, exc)
        else:
            return redirect(reverse("catalog:job-detail", args=[job.pk]))
    return render(request, "catalog/import.html", {"form": form}, status=400 if form.is_bound else 200)
