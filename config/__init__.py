"""Maracker settings package: settings from the environment, URL routes, WSGI and ASGI entry points."""
from worker.celery import app as celery_app

__all__ = ["celery_app"]
