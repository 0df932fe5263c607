"""Routes of the web pages: `/` leads to the catalog under /catalog/, sign-in under /accounts/."""
from django.urls import path, re_path
from django.views.generic import RedirectView

from api.pages import auth, catalog, deployments, jobs, tokens

app_name = "catalog"

urlpatterns = [
    path("", RedirectView.as_view(url="/catalog/", permanent=False), name="root"),
    path("catalog/", catalog.catalog_index, name="index"),
    path("catalog/import", catalog.app_import, name="app-import"),
    path("catalog/apps/<str:ref>", catalog.app_detail, name="app-detail"),
    path("catalog/apps/<str:ref>/edit", catalog.app_edit, name="app-edit"),
    re_path(r"^catalog/configs/(?P<pk>[0-9]{1,18})/(?P<action>deploy|stop|restart|scale)$", jobs.config_action,
            name="config-action"),
    path("catalog/jobs/<str:pk>", jobs.job_detail, name="job-detail"),
    path("catalog/jobs/<str:pk>/timeline", jobs.job_timeline, name="job-timeline"),
    path("catalog/jobs/<str:pk>/cancel", jobs.job_cancel, name="job-cancel"),
    path("catalog/deployments/", deployments.deployment_index, name="deployments"),
    path("catalog/deployments/<int:pk>", deployments.deployment_detail, name="deployment-detail"),
    path("catalog/deployments/<int:pk>/frame", deployments.deployment_frame, name="deployment-frame"),
    path("accounts/login/", auth.login, name="login"),
    path("accounts/logout/", auth.logout, name="logout"),
    path("accounts/tokens/", tokens.token_index, name="tokens"),
    path("accounts/tokens/<str:prefix>/revoke", tokens.token_delete, name="token-revoke"),
]
