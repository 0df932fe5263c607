"""gunicorn settings for the web process: bind from PORT, threads for long polls, JSON logs."""
import os

from config.logging import logging_config

bind = f"{os.environ.get('WEB_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads let `GET /api/v1/jobs/{id}?wait=30` long polls wait without holding a whole process.
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
# Above the 30 s long-poll cap, so a waiting request is never killed as a stuck worker.
timeout = int(os.environ.get("WEB_TIMEOUT", "75"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# The longest request line gunicorn allows (its default is 4094): long search and filter query strings fit; longer
# ones get 414, which the OpenAPI document says (api/schema_hooks.py).
limit_request_line = 8190
# Requests are logged by the application (one JSON line each, with its request id), not by gunicorn.
accesslog = None
_level = os.environ.get("LOG_LEVEL", "info").upper()
logconfig_dict = logging_config(_level, os.environ.get("LOG_FORMAT", "json").lower())
# gunicorn's own loggers write through the same structured handler.
logconfig_dict["loggers"].update({
    "gunicorn.error": {"handlers": ["console"], "level": _level, "propagate": False},
    "gunicorn.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
})
# The default control socket is one path per user (~/.gunicorn): several instances on a host would collide.
control_socket_disable = True
# Behind a reverse proxy (Traefik, compose), trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    """Once the application is loaded in a worker, move its objects out of the garbage collector's sight.

    Django, DRF and the app leave hundreds of thousands of long-lived objects; every full collection walked
    them all, a pause of tens of ms that every request in flight in the process waited through (the tail of
    the latency). `gc.freeze()` keeps them from being scanned; new objects are collected as before.
    """
    import gc

    gc.collect()
    gc.freeze()
