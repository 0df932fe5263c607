"""Django application config of the background workers."""
from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "worker"
    label = "worker"
    verbose_name = "Maracker workers"
