"""Django application config of the shared domain."""
from django.apps import AppConfig


class SharedConfig(AppConfig):
    name = "shared"
    label = "shared"
    verbose_name = "Maracker domain"
    default_auto_field = "django.db.models.BigAutoField"
