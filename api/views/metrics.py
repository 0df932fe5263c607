"""/metrics: Prometheus text exposition of the jobs, queues, retries, webhook deliveries and the watcher."""
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared.metrics import MarackerCollector

# A registry of our own: the web process's default registry would only describe this one gunicorn worker.
_registry = CollectorRegistry(auto_describe=False)
_registry.register(MarackerCollector())


def metrics(request):
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
