"""Django application config of the HTTP layer."""
from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    label = "api"
    verbose_name = "Maracker HTTP API"
