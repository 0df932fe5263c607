"""Root URL routes: the REST API, the ancestor's routes, health checks, API docs and the web pages."""
from django.urls import include, path

urlpatterns = [
    path("", include("api.urls")),
]
