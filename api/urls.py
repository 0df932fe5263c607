"""API routes: /api/v1, the ancestor's routes at the root, health probes and the OpenAPI documents."""
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api.views import health, jobs

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Jobs and deployments
    path("api/v1/marathon-configs/<str:pk>/deploy", jobs.DeployConfigView.as_view(), name="config-deploy"),
    path("api/v1/marathon-configs/<str:pk>/stop", jobs.StopConfigView.as_view(), name="config-stop"),
    path("api/v1/marathon-configs/<str:pk>/restart", jobs.RestartConfigView.as_view(), name="config-restart"),
    path("api/v1/marathon-configs/<str:pk>/scale", jobs.ScaleConfigView.as_view(), name="config-scale"),
    path("api/v1/jobs", jobs.JobListView.as_view(), name="job-list"),
    path("api/v1/jobs/<str:pk>", jobs.JobDetailView.as_view(), name="job-detail"),
    path("api/v1/jobs/<str:pk>/events", jobs.JobEventsView.as_view(), name="job-events"),
    path("api/v1/jobs/<str:pk>/cancel", jobs.JobCancelView.as_view(), name="job-cancel"),
    path("api/v1/deployments", jobs.DeploymentListView.as_view(), name="deployment-list"),
    path("api/v1/deployments/<int:pk>", jobs.DeploymentDetailView.as_view(), name="deployment-detail"),
    # The ancestor's job routes
    re_path(r"^deploy/(?P<pk>[^/]+)/?$", jobs.LegacyDeployView.as_view(), name="legacy-deploy"),
    re_path(r"^delete/(?P<pk>[^/]+)/?$", jobs.LegacyDeleteView.as_view(), name="legacy-delete"),
]
