"""Root URL routes: the REST API, the ancestor's routes, health checks, API docs, the web pages, Django admin."""
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),  # users, groups (roles), API tokens, the audit log: for staff
    path("", include("api.urls")),
]
