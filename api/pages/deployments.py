"""Deployment pages: what runs on Marathon, its health and tasks, its public address and a framed view of it."""
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from api.pages.permissions import can_change
from shared.errors import NotFound
from shared.models import DeploymentStatus
from shared.presenters import deployment_data
from shared.selectors.jobs import deployment_get, deployment_list

PAGE_SIZE = 50


def _deployment_or_404(pk):
    try:
        return deployment_get(pk)
    except NotFound as exc:
        raise Http404(exc.message) from None


@require_GET
def deployment_index(request):
    status = request.GET.get("status", "")
    if status not in DeploymentStatus.values:
        status = ""
    page = Paginator(deployment_list(status=status or None), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"deployment": deployment, "data": deployment_data(deployment)} for deployment in page.object_list]
    return render(request, "catalog/deployments.html", {
        "page": page, "rows": rows, "status": status, "statuses": DeploymentStatus.values,
    })


@require_GET
def deployment_detail(request, pk):
    deployment = _deployment_or_404(pk)
    return render(request, "catalog/deployment_detail.html", {
        "deployment": deployment, "data": deployment_data(deployment),
        "can_change": can_change(request.user, deployment.config) and deployment.config_id is not None,
    })


@require_GET
def deployment_frame(request, pk):
    deployment = _deployment_or_404(pk)
    return render(request, "catalog/deployment_frame.html", {"deployment": deployment,
                                                             "url": deployment.public_url})
