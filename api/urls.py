"""API routes: /api/v1, the ancestor's routes at the root, health probes and the OpenAPI documents."""
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api.views import catalog
from api.views import webhooks
from api.views import boutiques, health, images, jobs, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # The catalog (a trailing slash is optional)
    re_path(r"^api/v1/apps/?$", catalog.AppListView.as_view(), name="app-list"),
    # Boutiques descriptors become apps (before the app detail route, which would take the name)
    re_path(r"^api/v1/apps/import-boutiques/?$", boutiques.AppImportBoutiquesView.as_view(),
            name="app-import-boutiques"),
    # (`import` is left to the app-import route below)
    re_path(r"^api/v1/apps/(?P<ref>(?!import/?$)[^/]+)/?$", catalog.AppDetailView.as_view(), name="app-detail"),
    re_path(r"^api/v1/apps/(?P<ref>[^/]+)/marathon-configs/?$", catalog.AppConfigCreateView.as_view(),
            name="app-config-create"),
    re_path(r"^api/v1/marathon-configs/(?P<pk>[^/]+)/?$", catalog.MarathonConfigDetailView.as_view(),
            name="config-detail"),
    re_path(r"^api/v1/containers/(?P<pk>[^/]+)/?$", catalog.ContainerDetailView.as_view(), name="container-detail"),
    # The ancestor's catalog routes: the same views; its app list is not paginated
    re_path(r"^apps/?$", catalog.AppListView.as_view(pagination_class=None), name="legacy-app-list"),
    re_path(r"^apps/(?P<ref>[^/]+)/?$", catalog.AppDetailView.as_view(), name="legacy-app-detail"),
    re_path(r"^container/docker/(?P<pk>[^/]+)/?$", catalog.ContainerDetailView.as_view(),
            name="legacy-container-detail"),
    re_path(r"^marathon-config/(?P<pk>[^/]+)/?$", catalog.MarathonConfigDetailView.as_view(),
            name="legacy-config-detail"),
    # Jobs and deployments
    path("api/v1/marathon-configs/<str:pk>/deploy", jobs.DeployConfigView.as_view(), name="config-deploy"),
    path("api/v1/marathon-configs/<str:pk>/stop", jobs.StopConfigView.as_view(), name="config-stop"),
    path("api/v1/marathon-configs/<str:pk>/restart", jobs.RestartConfigView.as_view(), name="config-restart"),
    path("api/v1/marathon-configs/<str:pk>/scale", jobs.ScaleConfigView.as_view(), name="config-scale"),
    path("api/v1/marathon-configs/<str:pk>/run", boutiques.RunConfigView.as_view(), name="config-run"),
    path("api/v1/jobs", jobs.JobListView.as_view(), name="job-list"),
    path("api/v1/jobs/<str:pk>", jobs.JobDetailView.as_view(), name="job-detail"),
    path("api/v1/jobs/<str:pk>/events", jobs.JobEventsView.as_view(), name="job-events"),
    path("api/v1/jobs/<str:pk>/cancel", jobs.JobCancelView.as_view(), name="job-cancel"),
    path("api/v1/deployments", jobs.DeploymentListView.as_view(), name="deployment-list"),
    path("api/v1/deployments/<int:pk>", jobs.DeploymentDetailView.as_view(), name="deployment-detail"),
    # Image metadata jobs
    path("api/v1/images/lookups", images.ImageLookupView.as_view(), name="image-lookup"),
    path("api/v1/apps/import", images.AppImportView.as_view(), name="app-import"),
    path("api/v1/apps/<str:ref>/refresh-metadata", images.AppRefreshMetadataView.as_view(),
         name="app-refresh-metadata"),
    # The ancestor's job routes
    re_path(r"^deploy/(?P<pk>[^/]+)/?$", jobs.LegacyDeployView.as_view(), name="legacy-deploy"),
    re_path(r"^delete/(?P<pk>[^/]+)/?$", jobs.LegacyDeleteView.as_view(), name="legacy-delete"),
]

# Webhook subscriptions, their deliveries and redelivery
urlpatterns += [
    path("api/v1/webhooks", webhooks.WebhookListView.as_view(), name="webhook-list"),
    path("api/v1/webhooks/<str:pk>", webhooks.WebhookDetailView.as_view(), name="webhook-detail"),
    path("api/v1/webhooks/<str:pk>/rotate-secret", webhooks.WebhookRotateSecretView.as_view(),
         name="webhook-rotate-secret"),
    path("api/v1/webhooks/<str:pk>/ping", webhooks.WebhookPingView.as_view(), name="webhook-ping"),
    path("api/v1/webhooks/<str:pk>/deliveries", webhooks.WebhookDeliveryListView.as_view(), name="webhook-deliveries"),
    path("api/v1/webhook-deliveries/<str:pk>", webhooks.WebhookDeliveryDetailView.as_view(),
         name="webhook-delivery-detail"),
    path("api/v1/webhook-deliveries/<str:pk>/redeliver", webhooks.WebhookRedeliverView.as_view(),
         name="webhook-redeliver"),
]

# Accounts: the signed-in user's API tokens; the audit log (admins)
from api.views import accounts  # noqa: E402

urlpatterns += [
    path("api/v1/tokens", accounts.TokenListView.as_view(), name="token-list"),
    path("api/v1/tokens/<str:prefix>", accounts.TokenDetailView.as_view(), name="token-detail"),
    path("api/v1/audit", accounts.AuditListView.as_view(), name="audit-list"),
]

# Web pages: / leads to /catalog/; sign-in under /accounts/ (api/pages/urls.py)
urlpatterns += [path("", include("api.pages.urls"))]
