"""Routes of the web pages: `/` leads to the catalog under /catalog/, sign-in under /accounts/."""
from django.urls import path, re_path
from django.views.generic import RedirectView

from api.pages import auth, catalog, deployments, jobs, tokens
from api.pages.permissions import read_required

app_name = "catalog"

urlpatterns = [
    path("", RedirectView.as_view(url="/catalog/", permanent=False), name="root"),
    path("catalog/", read_required(catalog.catalog_index), name="index"),
    path("catalog/import", catalog.app_import, name="app-import"),
    path("catalog/apps/<str:ref>", read_required(catalog.app_detail), name="app-detail"),
    path("catalog/apps/<str:ref>/edit", catalog.app_edit, name="app-edit"),
    re_path(r"^catalog/configs/(?P<pk>[0-9]{1,18})/(?P<action>deploy|stop|restart|scale)$", jobs.config_action,
            name="config-action"),
    path("catalog/jobs/<str:pk>", read_required(jobs.job_detail), name="job-detail"),
    path("catalog/jobs/<str:pk>/timeline", read_required(jobs.job_timeline), name="job-timeline"),
    path("catalog/jobs/<str:pk>/cancel", jobs.job_cancel, name="job-cancel"),
    path("catalog/deployments/", read_required(deployments.deployment_index), name="deployments"),
    path("catalog/deployments/<int:pk>", read_required(deployments.deployment_detail), name="deployment-detail"),
    path("catalog/deployments/<int:pk>/frame", read_required(deployments.deployment_frame), name="deployment-frame"),
    path("accounts/login/", auth.login, name="login"),
    path("accounts/logout/", auth.logout, name="logout"),
    path("accounts/tokens/", tokens.token_index, name="tokens"),
    path("accounts/tokens/<str:prefix>/revoke", tokens.token_delete, name="token-revoke"),
]
