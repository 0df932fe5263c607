"""Liveness and readiness probes."""
from django.db import connection
from django.http import JsonResponse

from shared.selectors.health import broker_check, database_check, watcher_health


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    checks = {"database": database_check(connection), "broker": broker_check()}
    ready = all(check["ok"] for check in checks.values())
    checks["watcher"] = watcher_health()
    return JsonResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status=200 if ready else 503)
