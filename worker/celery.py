"""The Celery application: Redis broker, one queue per kind of work, settings from Django."""
import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("maracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Deploys never wait behind a slow registry or webhook receiver: each kind of work has its own queue.
app.conf.task_queues = (
    Queue("deploy"),
    Queue("metadata"),
    Queue("webhooks"),
    Queue("maintenance"),
)
app.conf.task_routes = {
    "maracker.jobs.*": {"queue": "deploy"},
    "maracker.metadata.*": {"queue": "metadata"},
    "maracker.webhooks.*": {"queue": "webhooks"},
    "maracker.maintenance.*": {"queue": "maintenance"},
}
app.autodiscover_tasks(["worker"])
# Imported at worker and beat start, before logging is set up: the ping task and the logging/log-context signals.
app.autodiscover_tasks(["worker"], related_name="ops_tasks")
